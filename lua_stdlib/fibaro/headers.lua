-- fibaro.headers: the `--%%key:value` header lines of a QuickApp source, in every dialect real
-- sources use: `--%%key:value` and `--%%key=value` (values may be quoted: `--%%name="My QA"`),
-- numbered UI rows `--%%u1=...` .. `--%%u60=...` beside `--%%u:...`, files as `path,name` or
-- `path:name`, variables as repeated `--%%var:name=expr` or one `--%%quickVars={...}`.
--
-- Values are typed: numbers, booleans and Lua tables are values, not text. An unknown key is a
-- warning naming file and line; a malformed value is an error naming file and line.

local M = {}

local load, type, tonumber, tostring = load, type, tonumber, tostring

-- Keys and how their value is read.
local KINDS = {
  name = "text", type = "text", manufacturer = "text", model = "text", role = "text",
  description = "text", uid = "text", proxy = "flag", offline = "flag", debug = "flag",
  save = "text", project = "text", interfaces = "table", speed = "number", var = "var",
  u = "ui", file = "file", quickVars = "table", id = "number", room = "text",
}

-- Instructions a header value may run: plenty for a table constructor, and a value that loops
-- (`--%%var:x=(function() while true do end end)()`) is an error instead of a hung loader.
local BUDGET = 1000000

local function out_of_budget()
  error("the value runs too long (a loop?)", 0)
end

-- A Lua expression evaluated in an empty environment (tables, numbers, strings, booleans), in a
-- coroutine of its own whose count hook bounds it (hooks are per coroutine: the caller's, the
-- watchdog's or a debugger's, stay as they are).
local function evaluate(expr, where)
  local chunk, err = load("return " .. expr, "=" .. where, "t", {})
  if not chunk then
    return nil, err
  end
  local co = coroutine.create(chunk)
  debug.sethook(co, out_of_budget, "", BUDGET)
  local ok, value = coroutine.resume(co)
  if not ok then
    return nil, value
  end
  return value
end

-- Strips one pair of matching quotes.
local function unquote(text)
  local quote = text:sub(1, 1)
  if (quote == '"' or quote == "'") and #text >= 2 and text:sub(-1) == quote then
    return text:sub(2, -2)
  end
  return text
end

-- A scalar header value: true/false, a number, or the (unquoted) text.
local function scalar(text)
  if text == "true" then
    return true
  elseif text == "false" then
    return false
  end
  local number = tonumber(text)
  if number and not text:match("^0%d") then
    return number
  end
  return unquote(text)
end

local readers = {}

function readers.text(value)
  return unquote(value)
end

function readers.flag(value)
  return scalar(value)
end

function readers.number(value)
  local number = tonumber(value)
  if not number then
    return nil, ("number expected, got '%s'"):format(value)
  end
  return number
end

function readers.table(value, where)
  local result, err = evaluate(value, where)
  if type(result) ~= "table" then
    return nil, err or ("Lua table expected, got '%s'"):format(value)
  end
  return result
end

function readers.ui(value, where)
  local row, err = evaluate(value, where)
  if type(row) ~= "table" then
    return nil, err or ("UI row table expected, got '%s'"):format(value)
  end
  return row
end

function readers.var(value, where)
  local name, expr = value:match("^%s*([%w_]+)%s*[=:]%s*(.-)%s*$")
  if not name or expr == "" then
    return nil, ("variable expected as name=value, got '%s'"):format(value)
  end
  local result, err = evaluate(expr, where)
  if err then
    -- Bare text that is no Lua expression (`--%%var:city=New York`) is that text.
    return { name = name, value = unquote(expr) }
  end
  if result == nil and expr ~= "nil" then
    -- A bare word (`--%%var:location=Stockholm`) is the word, not an undefined global.
    result = expr
  end
  return { name = name, value = result }
end

function readers.file(value)
  local path, name = value:match("^%s*(.-)%s*[,:]%s*([%w_%.%-]+)%s*$")
  if not path or path == "" then
    path, name = value:match("^%s*(.-)%s*$"), nil
  end
  if path == "" then
    return nil, ("file expected as path,name, got '%s'"):format(value)
  end
  if not name then
    name = path:match("([^/\\]+)%.lua$") or path
  end
  return { path = unquote(path), name = name }
end

--- Parses the headers of `source` (from file `file`). Returns the header table, or nil and an
--- error message `file:line: ...`. `warn(message)` gets each warning.
--- Result: { name, type, ..., vars = {{name, value}}, ui = {rows}, files = {{path, name}} }.
function M.parse(source, file, warn)
  local headers = { vars = {}, ui = {}, files = {} }
  local numbered = {}
  local line_number = 0
  for line in (source .. "\n"):gmatch("([^\n]*)\n") do
    line_number = line_number + 1
    local key, value = line:match("^%-%-%%%%([%a_][%w_]*)%s*[:=]%s*(.-)%s*$")
    if key then
      local where = ("%s:%d"):format(file, line_number)
      local row_number = key:match("^u(%d+)$")
      local kind = row_number and "ui" or KINDS[key]
      if not kind then
        if warn then
          warn(("%s: unknown header key '%s'"):format(where, key))
        end
      else
        local parsed, err = readers[kind](value, where)
        if parsed == nil and err then
          return nil, ("%s: bad value for header '%s': %s"):format(where, key, tostring(err))
        end
        if kind == "var" then
          headers.vars[#headers.vars + 1] = parsed
        elseif kind == "ui" and row_number then
          numbered[#numbered + 1] = { tonumber(row_number), parsed }
        elseif kind == "ui" then
          headers.ui[#headers.ui + 1] = parsed
        elseif kind == "file" then
          headers.files[#headers.files + 1] = parsed
        elseif key == "quickVars" then
          local names = {}
          for name in pairs(parsed) do
            names[#names + 1] = tostring(name)
          end
          table.sort(names)
          for _, name in ipairs(names) do
            headers.vars[#headers.vars + 1] = { name = name, value = parsed[name] }
          end
        else
          headers[key] = parsed
        end
      end
    end
  end
  table.sort(numbered, function(a, b)
    return a[1] < b[1]
  end)
  for _, entry in ipairs(numbered) do
    headers.ui[#headers.ui + 1] = entry[2]
  end
  return headers
end

return M
