-- plua.checks: the argument checks of the `_PY` families, and `raise`, which every embedded
-- library uses for its argument errors. A failed check raises "<function>: bad argument #<n>
-- (<expected> expected, got <type>)" at the line of the script that made the call: the first
-- caller outside plua's embedded library, however many library functions (a `net` class
-- method, a `_PY` function, a check) stand in between.

local M = {}

local type, error, tostring = type, error, tostring
local math_type, floor, tointeger = math.type, math.floor, math.tointeger
local getinfo = debug.getinfo

-- Chunk names of the embedded library (src/lua/stdlib.rs names them so).
local LIBRARY = "^@lua_stdlib/"

--- Raises `message` at the line of the first Lua function on the stack that is not part of the
--- embedded library (C functions such as `pcall` are passed over too).
function M.raise(message)
  local level = 2 -- getinfo levels: 1 = raise, 2 = its caller, ...
  while true do
    local info = getinfo(level, "S")
    if info == nil then
      error(message, 0)
    end
    if info.what ~= "C" and not info.source:find(LIBRARY) then
      error(message, level) -- error's level 1 is raise itself, as getinfo's
    end
    level = level + 1
  end
end
local raise = M.raise

--- Raises the "bad argument" error.
function M.bad(name, index, expected, value)
  raise(("%s: bad argument #%d (%s expected, got %s)"):format(name, index, expected, type(value)))
end
local bad = M.bad

local function integer(value)
  if math_type(value) == "float" and value == floor(value) then
    return tointeger(value)
  end
  return value
end

--- An integer id (a whole float is accepted); `what` names it in the message.
function M.id(name, index, value, what)
  value = integer(value)
  if math_type(value) ~= "integer" then
    bad(name, index, what or "connection id", value)
  end
  return value
end

--- A string (a number is turned into one, as Lua's string functions do).
function M.string(name, index, value)
  local t = type(value)
  if t == "number" then
    return tostring(value)
  end
  if t ~= "string" then
    bad(name, index, "string", value)
  end
  return value
end

--- A port number, 0-65535.
function M.port(name, index, value)
  value = integer(value)
  if math_type(value) ~= "integer" then
    bad(name, index, "port number", value)
  end
  if value < 0 or value > 65535 then
    raise(("%s: bad argument #%d (port %d out of range 0-65535)"):format(name, index, value))
  end
  return value
end

--- A WebSocket close code, 1000-4999, or nil.
function M.close_code(name, index, value)
  if value == nil then
    return nil
  end
  value = integer(value)
  if math_type(value) ~= "integer" then
    bad(name, index, "close code", value)
  end
  if value < 1000 or value > 4999 then
    raise(("%s: bad argument #%d (close code %d out of range 1000-4999)"):format(name, index, value))
  end
  return value
end

--- A function or nil.
function M.callback(name, index, value)
  if value ~= nil and type(value) ~= "function" then
    bad(name, index, "function", value)
  end
  return value
end

--- A number (or nil when `optional`).
function M.number(name, index, value, optional)
  if value == nil and optional then
    return nil
  end
  if type(value) ~= "number" then
    bad(name, index, "number", value)
  end
  return value
end

--- A table or nil.
function M.table(name, index, value)
  if value ~= nil and type(value) ~= "table" then
    bad(name, index, "table", value)
  end
  return value
end

-- Field types of an option table: "string", "number", "integer", "boolean", "table",
-- "function"; a field may be nil.
local field_kinds = { integer = "number" }

--- Checks the fields of option table `opts` (argument `index`, or nil) against `spec`
--- (`{field = kind}`); a wrong field is "bad argument #n (field 'timeout': number expected,
--- got string)". `where` names a nested table ("tls.").
function M.fields(name, index, opts, spec, where)
  if opts == nil then
    return nil
  end
  if type(opts) ~= "table" then
    bad(name, index, "table", opts)
  end
  for field, kind in pairs(spec) do
    local value = opts[field]
    if value ~= nil then
      local ok
      if kind == "integer" then
        ok = math_type(integer(value)) == "integer"
      elseif type(kind) == "table" then
        ok = type(value) == "table"
        if ok then
          M.fields(name, index, value, kind, (where or "") .. field .. ".")
        end
        kind = "table"
      else
        ok = type(value) == (field_kinds[kind] or kind)
      end
      if not ok then
        raise(("%s: bad argument #%d (field '%s%s': %s expected, got %s)"):format(
          name, index, where or "", field, kind, type(value)))
      end
    end
  end
  return opts
end

-- Lua words for the Rust types of mlua's conversion errors.
local rust_types = {
  String = "string", LuaString = "string", BorrowedStr = "string", BString = "string",
  bool = "boolean", f64 = "number", f32 = "number", Table = "table", Function = "function",
  i8 = "integer", i16 = "integer", i32 = "integer", i64 = "integer", isize = "integer",
  u8 = "integer", u16 = "integer", u32 = "integer", u64 = "integer", usize = "integer",
}

--- The message of error `err` raised by Rust function `name`, as a script should see it:
--- the cause without mlua's "runtime error: " prefix and traceback, conversion failures
--- ("error converting Lua nil to String") as "bad argument #n (string expected, got nil)",
--- and named after `name`. `args` (a packed table) are the call's arguments.
function M.describe(name, err, args)
  local message = tostring(err)
  if type(err) ~= "string" then
    message = message:match("^[^\n]*") -- mlua's error objects append a traceback
  end
  message = message:gsub("^runtime error: ", "")
  local pos, from, to = message:match("^bad argument #(%d+)[^:]*: error converting Lua (%S+) to ([%w_]+)")
  if not pos then
    from, to = message:match("^error converting Lua (%S+) to ([%w_]+)")
  end
  if to then
    local expected = rust_types[to] or to
    local got = from
    local value = pos and args and args[tonumber(pos)]
    if expected == "integer" and type(value) == "number" then
      got = math_type(integer(value)) == "integer" and "number out of range" or "number with a fraction"
    end
    if pos then
      message = ("bad argument #%d (%s expected, got %s)"):format(pos, expected, got)
    else
      message = ("%s expected, got %s"):format(expected, got)
    end
  end
  local plain = name:gsub("^_PY%.", "")
  if not message:find(plain, 1, true) then
    message = name .. ": " .. message
  end
  return message
end
local describe = M.describe

local function finish(name, args, ok, ...)
  if ok then
    return ...
  end
  raise(describe(name, (...), args))
end

--- `fn` (a function written in Rust) wrapped so that its errors are raised as plain messages
--- (see `describe`) at the line of the script that called it, not as mlua error objects with
--- a traceback and no line.
function M.wrap(name, fn)
  return function(...)
    return finish(name, { ... }, pcall(fn, ...))
  end
end

return M
