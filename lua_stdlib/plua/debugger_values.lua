-- plua.debugger_values: Lua values written as one line of Lua source, for the MobDebug
-- replies (`STACK`, `EXEC`) that the IDE loads back. Tables are written to `maxlevel` levels
-- and `MAX_ITEMS` entries; functions, threads and userdata (and tables past the limits or seen
-- before) become `nil --[[what]]`, which loads fine and still shows what was there.

local type, tostring, tonumber, pairs, pcall = type, tostring, tonumber, pairs, pcall
local math_type, huge, concat = math.type, math.huge, table.concat

local MAX_ITEMS = 200

local keywords = {}
for word in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do
  keywords[word] = true
end

local M = {}

--- `s` as a Lua string literal on one line.
function M.quote(s)
  return (("%q"):format(s):gsub("\\\n", "\\n"))
end

local quote = M.quote

local function number(n)
  if n ~= n then
    return "0/0"
  elseif n == huge then
    return "math.huge"
  elseif n == -huge then
    return "-math.huge"
  elseif math_type(n) == "integer" then
    if n == math.mininteger then
      return "math.mininteger"
    end
    return tostring(n)
  end
  local text = ("%.17g"):format(n)
  local short = ("%.14g"):format(n)
  if tonumber(short) == n then
    text = short
  end
  if not text:find("[%.eEn]") then
    text = text .. ".0"
  end
  return text
end

--- `tostring(value)` that survives a failing `__tostring`.
function M.describe(value)
  local ok, text = pcall(tostring, value)
  if ok and type(text) == "string" then
    return text
  end
  return type(value)
end

local describe = M.describe

local function opaque(value)
  return "nil --[[" .. describe(value):gsub("%]%]", "] ]") .. "]]"
end

local write

local function key_text(key, level, seen)
  if type(key) == "string" and key:match("^[%a_][%w_]*$") and not keywords[key] then
    return key
  end
  return "[" .. write(key, level, seen) .. "]"
end

local function table_text(t, level, seen)
  seen[t] = true
  local parts, count = {}, 0
  local n = #t
  for i = 1, n do
    count = count + 1
    if count > MAX_ITEMS then
      break
    end
    parts[count] = write(t[i], level + 1, seen)
  end
  for key, value in pairs(t) do
    local in_array = math_type(key) == "integer" and key >= 1 and key <= n
    if not in_array then
      count = count + 1
      if count > MAX_ITEMS then
        break
      end
      parts[count] = key_text(key, level + 1, seen) .. " = " .. write(value, level + 1, seen)
    end
  end
  seen[t] = nil
  if count > MAX_ITEMS then
    parts[MAX_ITEMS + 1] = "--[[...]]"
  end
  return "{" .. concat(parts, ", ") .. "}"
end

-- `seen.maxlevel` is the depth limit of this call.
write = function(value, level, seen)
  local kind = type(value)
  if kind == "string" then
    return quote(value)
  elseif kind == "number" then
    return number(value)
  elseif kind == "boolean" or kind == "nil" then
    return tostring(value)
  elseif kind == "table" and not seen[value] and level < seen.maxlevel then
    return table_text(value, level, seen)
  end
  return opaque(value)
end

--- `value` as Lua source on one line; tables to `maxlevel` levels (default 3).
function M.line(value, maxlevel)
  return write(value, 0, { maxlevel = maxlevel or 3 })
end

--- `key` as it is written before `=` in a table constructor.
function M.key(key)
  return key_text(key, 0, { maxlevel = 1 })
end

--- Lua source `text` (a table constructor) as the chunk MobDebug's replies carry.
function M.chunk(text)
  return "do local _ = " .. text .. "; return _; end"
end

return M
