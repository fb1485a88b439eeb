-- plua.repl: compiles REPL input so that `local`s persist from line to line.
--
-- Each line runs as its own chunk whose _ENV is a proxy: names declared `local` by an earlier
-- line are found there first, everything else goes to _G. After a statement chunk runs, a call
-- appended to it copies the chunk's top-level locals into the proxy (debug.getlocal on the
-- chunk's frame). Expressions are tried first, as `return <line>`, so their values print.

local load, rawset, setmetatable, getlocal = load, rawset, setmetatable, debug.getlocal

local declared, saved = {}, {}
local env = setmetatable({}, {
  __index = function(_, name)
    if declared[name] then
      return saved[name]
    end
    return _G[name]
  end,
  __newindex = function(_, name, value)
    if declared[name] then
      saved[name] = value
    else
      _G[name] = value
    end
  end,
})

rawset(env, "__plua_capture_locals", function()
  local index = 1
  while true do
    local name, value = getlocal(2, index)
    if not name then
      return
    end
    if name:sub(1, 1) ~= "(" then
      declared[name] = true
      saved[name] = value
    end
    index = index + 1
  end
end)

local M = {}

--- Compiles one chunk of REPL input.
-- Returns the function to run, or nil and "incomplete" when more lines are needed, or nil and
-- the syntax error.
function M.compile(source)
  if source:sub(1, 1) == "=" then
    source = "return " .. source:sub(2) -- `=expr`, which `lua -i` still accepts from 5.2
  end
  local fn = load("return " .. source, "=stdin", "t", env)
  if fn then
    return fn
  end
  local plain, err = load(source, "=stdin", "t", env)
  if not plain then
    if err:sub(-5) == "<eof>" then
      return nil, "incomplete"
    end
    return nil, err
  end
  -- Only a chunk that is complete by itself gets the capture call: appended to `a =` it
  -- would become the missing expression.
  return load(source .. "\n__plua_capture_locals()", "=stdin", "t", env) or plain
end

--- The prompt to show: `_PROMPT` (a new chunk) or `_PROMPT2` (more lines of one) when set, any
-- value through `tostring`, as `lua -i` reads them; otherwise `default`.
function M.prompt(continuation, default)
  local value = _G[continuation and "_PROMPT2" or "_PROMPT"]
  if value == nil then
    return default
  end
  return tostring(value)
end

-- Most entries completion lists from one table (a huge table must not slow the prompt down).
local MAX_FIELDS = 2000

--- The names tab completion offers: globals, the REPL's locals, and the fields of the tables
-- they hold, as `name` and `name.field` (raw iteration: no `__pairs`, nothing is loaded).
function M.names()
  local names = {}
  local function fields(prefix, t)
    local count = 0
    for key in next, t do
      if type(key) == "string" and key:match("^[%a_][%w_]*$") then
        names[#names + 1] = prefix .. key
        count = count + 1
        if count >= MAX_FIELDS then
          return
        end
      end
    end
  end
  local function add(name, value)
    names[#names + 1] = name
    if type(value) == "table" and value ~= _G then
      fields(name .. ".", value)
    end
  end
  local count = 0
  for name, value in next, _G do
    if type(name) == "string" and name:match("^[%a_][%w_]*$") then
      add(name, value)
      count = count + 1
      if count >= MAX_FIELDS then
        break
      end
    end
  end
  for name in pairs(declared) do
    add(name, saved[name])
  end
  return names
end

return M
