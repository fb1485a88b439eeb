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
  local fn = load("return " .. source, "=stdin", "t", env)
  if fn then
    return fn
  end
  fn = load(source .. "\n__plua_capture_locals()", "=stdin", "t", env)
  if fn then
    return fn
  end
  local err
  fn, err = load(source, "=stdin", "t", env)
  if fn then
    return fn
  end
  if err:sub(-5) == "<eof>" then
    return nil, "incomplete"
  end
  return nil, err
end

return M
