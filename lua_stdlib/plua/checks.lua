-- plua.checks: the argument checks of the `_PY` families (sockets, WebSocket). A failed check
-- raises "<function>: bad argument #<n> (<expected> expected, got <type>)" at the line of the
-- script that called the `_PY` function: the checks are called straight from that function, so
-- the script is two levels above them.

local M = {}

local type, error, tostring = type, error, tostring
local math_type, floor, tointeger = math.type, math.floor, math.tointeger

--- Raises the "bad argument" error. `depth` is how many library functions stand between the
--- script and this call: 1 when a `_PY` function calls it, 2 from one of the checks below.
function M.bad(name, index, expected, value, depth)
  error(("%s: bad argument #%d (%s expected, got %s)"):format(name, index, expected, type(value)), (depth or 1) + 2)
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
    bad(name, index, what or "connection id", value, 2)
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
    bad(name, index, "string", value, 2)
  end
  return value
end

--- A port number, 0-65535.
function M.port(name, index, value)
  value = integer(value)
  if math_type(value) ~= "integer" then
    bad(name, index, "port number", value, 2)
  end
  if value < 0 or value > 65535 then
    error(("%s: bad argument #%d (port %d out of range 0-65535)"):format(name, index, value), 3)
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
    bad(name, index, "close code", value, 2)
  end
  if value < 1000 or value > 4999 then
    error(("%s: bad argument #%d (close code %d out of range 1000-4999)"):format(name, index, value), 3)
  end
  return value
end

--- A function or nil.
function M.callback(name, index, value)
  if value ~= nil and type(value) ~= "function" then
    bad(name, index, "function", value, 2)
  end
  return value
end

--- A number (or nil when `optional`).
function M.number(name, index, value, optional)
  if value == nil and optional then
    return nil
  end
  if type(value) ~= "number" then
    bad(name, index, "number", value, 2)
  end
  return value
end

--- A table or nil.
function M.table(name, index, value)
  if value ~= nil and type(value) ~= "table" then
    bad(name, index, "table", value, 2)
  end
  return value
end

return M
