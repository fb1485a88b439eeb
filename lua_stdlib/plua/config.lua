-- plua.config: `_PY.pluaconfig`, the user's settings from `.plua.lua` files (SPEC 9), read the
-- first time a script looks the name up (never at start-up).
--
-- The files are `$HOME/.plua.lua` and `./.plua.lua`. Each holds a Lua table, written as a
-- bare table constructor or as a chunk that `return`s one; the chunk runs with read access to
-- the globals (so `os.getenv` works) and writes to its own table. Keys of the current
-- directory's file win over the home file's, key by key. A file that does not compile, fails,
-- or gives no table is skipped with a warning on stderr; no files give an empty table.
-- The exception: a file that names `memory_limit`, `callback_timeout`, `max_connections` or
-- `max_server_connections` runs at start-up (M.limits, called by src/runtime/mod.rs), for the
-- options the command line leaves out; `_PY.pluaconfig` then gives the table read then.

local M = {}

-- The table in file `path`; nil if there is no such file; nil and a message if it is bad.
local function read_config(path)
  local file = io.open(path, "rb")
  if not file then
    return nil
  end
  local source = file:read("a") or ""
  file:close()
  local env = setmetatable({}, { __index = _G })
  local chunk, message = load(source, "@" .. path, "t", env)
  if not chunk then
    -- A bare table constructor is not a chunk: read it as an expression.
    local as_expression = load("return " .. source, "@" .. path, "t", env)
    if not as_expression then
      return nil, message
    end
    chunk = as_expression
  end
  local ok, result = pcall(chunk)
  if not ok then
    return nil, tostring(result)
  end
  if type(result) ~= "table" then
    return nil, ("a table expected, got %s"):format(type(result))
  end
  return result
end

--- Reads and merges the files (current directory over home); returns the merged table.
function M.load()
  local merged = {}
  local home = os.getenv("HOME")
  local paths = { home and home ~= "" and (home .. "/.plua.lua") or nil, ".plua.lua" }
  for i = 1, 2 do
    local path = paths[i]
    if path then
      local config, message = read_config(path)
      if config then
        for key, value in pairs(config) do
          merged[key] = value
        end
      elseif message then
        io.stderr:write(("Warning: Failed to load config from %s: %s\n"):format(path, message))
      end
    end
  end
  return merged
end

-- A limit key's value: a number >= 0 (and > 0 unless `zero_ok`; whole and >= 1 if `whole`),
-- else nil and a warning.
local function limit(config, key, zero_ok, whole)
  local value = config[key]
  if value == nil then
    return nil
  end
  if math.type(value) == nil or value ~= value or value == math.huge or value < 0 or (value == 0 and not zero_ok)
      or (whole and (value < 1 or value % 1 ~= 0)) then
    local expected = whole and "a whole number of at least 1"
      or ("a %s number"):format(zero_ok and "non-negative" or "positive")
    io.stderr:write(("Warning: .plua.lua: %s must be %s, got %s; ignored\n")
      :format(key, expected, tostring(value)))
    return nil
  end
  return value + 0.0
end

--- The limits set in the files, for the command-line options they stand in for:
--- `memory_limit` (MB, as `--memory-limit`) and `callback_timeout` (seconds, 0 = off, as
--- `--callback-timeout`), `max_connections` and `max_server_connections` (connection counts,
--- as `--max-connections` and `--max-server-connections`). Any may be nil. Read at start-up,
--- and only when a file names one of them.
function M.limits()
  local config = M.load()
  M.loaded = config
  return limit(config, "memory_limit", false), limit(config, "callback_timeout", true),
    limit(config, "max_connections", false, true), limit(config, "max_server_connections", false, true)
end

function M.install(PY)
  -- The table read at start-up for the limit keys, if any: the files run only once.
  PY.pluaconfig = M.loaded or M.load()
end

return M
