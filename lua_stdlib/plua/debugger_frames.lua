-- plua.debugger_frames: the paused coroutine's frames for the MobDebug client — the stack dump
-- (`STACK`) and the environment in which `EXEC` chunks and watch expressions run (a frame's
-- locals and upvalues over its globals; assignments to them are written back to the frame).
--
-- Frames are found relative to the debugger's line hook, which is on the stack right above the
-- paused function: `locate(hook)` gives the paused frame's level as seen by its caller. Frames
-- of plua's own library (`@lua_stdlib/...`) are left out of what the IDE sees.

local getinfo, getlocal, setlocal = debug.getinfo, debug.getlocal, debug.setlocal
local getupvalue, setupvalue = debug.getupvalue, debug.setupvalue
local concat, setmetatable = table.concat, setmetatable
local values = require("plua.debugger_values")

local M = {}

-- The level of the paused frame as seen by the function calling `locate`: inside `locate`
-- level 1 is itself, so the hook found at level L is at L - 1 for the caller, and the paused
-- frame, right above the hook, at L.
local function locate(hook)
  local level = 3
  while true do
    local info = getinfo(level, "f")
    if not info then
      return nil
    end
    if info.func == hook then
      return level
    end
    level = level + 1
  end
end

local function is_library(source)
  return source:sub(1, 12) == "@lua_stdlib/"
end

-- Levels (as seen by the caller) of the frames the IDE sees from `base` up, paused first.
local function visible_levels(base)
  local levels = {}
  local level = base
  while true do
    local info = getinfo(level + 1, "S")
    if not info then
      return levels
    end
    if not is_library(info.source) then
      levels[#levels + 1] = level
    end
    level = level + 1
  end
end

local function variable(name, value)
  return values.key(name) .. " = {" .. values.line(value) .. ", " .. values.quote(values.describe(value)) .. "}"
end

local function locals_text(level)
  local parts, index = {}, 1
  local order = {}
  while true do
    local name, value = getlocal(level + 1, index)
    if not name then
      break
    end
    if name:sub(1, 1) ~= "(" then
      order[name] = #parts + 1
      parts[order[name]] = variable(name, value)
    end
    index = index + 1
  end
  return "{" .. concat(parts, ", ") .. "}"
end

local function upvalues_text(func)
  local parts, index = {}, 1
  while func do
    local name, value = getupvalue(func, index)
    if not name then
      break
    end
    if name ~= "_ENV" and name ~= "" then
      parts[#parts + 1] = variable(name, value)
    end
    index = index + 1
  end
  return "{" .. concat(parts, ", ") .. "}"
end

--- The stack dump for `STACK`: a chunk returning `{ {info, locals, upvalues}, ... }`, info
--- being `{name, file, linedefined, currentline, what, namewhat, short_src}` and each variable
--- `name = {value, tostring(value)}`. `file_of(source)` gives the IDE's name of a source.
function M.stack(hook, file_of)
  local base = locate(hook)
  if not base then
    return nil, "not paused"
  end
  local frames = {}
  for _, level in ipairs(visible_levels(base)) do
    local info = getinfo(level, "nSlf")
    local file = file_of(info.source) or info.source
    local fields = {
      values.line(info.name or (info.what == "main" and "main chunk") or "?"),
      values.quote(file),
      values.line(info.linedefined),
      values.line(info.currentline),
      values.quote(info.what),
      values.quote(info.namewhat),
      values.quote(info.short_src),
    }
    frames[#frames + 1] = "{{" .. concat(fields, ", ") .. "}, " .. locals_text(level) .. ", " .. upvalues_text(info.func) .. "}"
  end
  return values.chunk("{" .. concat(frames, ", ") .. "}")
end

--- What the frame `index` (1: the paused one) has in scope: `{ level, func, env, locals,
--- upvalues, vars, dirty }`, with `env` the table a chunk runs in; nil if there is no such
--- frame. `level` is the frame's level as seen by the caller of `capture`.
function M.capture(hook, index)
  local base = locate(hook)
  if not base then
    return nil
  end
  local level = visible_levels(base)[index or 1]
  if not level then
    return nil
  end
  local info = getinfo(level, "f")
  local frame = { level = level - 1, func = info.func, locals = {}, upvalues = {}, vars = {}, dirty = {} }
  local globals = _G
  local i = 1
  while true do
    local name, value = getupvalue(info.func, i)
    if not name then
      break
    end
    if name == "_ENV" then
      globals = value
    elseif name ~= "" then
      frame.upvalues[name] = i
      frame.vars[name] = { value }
    end
    i = i + 1
  end
  i = 1
  while true do
    local name, value = getlocal(level, i)
    if not name then
      break
    end
    if name:sub(1, 1) ~= "(" then
      frame.locals[name] = i
      frame.upvalues[name] = nil
      frame.vars[name] = { value }
    end
    i = i + 1
  end
  local vars, dirty = frame.vars, frame.dirty
  frame.env = setmetatable({}, {
    __index = function(_, name)
      local var = vars[name]
      if var then
        return var[1]
      end
      return globals[name]
    end,
    __newindex = function(_, name, value)
      local var = vars[name]
      if var then
        var[1] = value
        dirty[name] = true
      else
        globals[name] = value
      end
    end,
  })
  return frame
end

--- Writes the locals and upvalues a chunk assigned back into the frame `capture` described.
--- Must be called from the same function (and level) that called `capture`.
function M.apply(frame)
  for name in pairs(frame.dirty) do
    local value = frame.vars[name][1]
    local index = frame.locals[name]
    if index then
      setlocal(frame.level + 1, index, value)
    elseif frame.upvalues[name] then
      setupvalue(frame.func, frame.upvalues[name], value)
    end
  end
  frame.dirty = {}
end

return M
