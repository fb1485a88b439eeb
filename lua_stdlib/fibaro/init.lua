-- fibaro: the HC3 QuickApp emulator (`plua --fibaro qa.lua [more.lua ...]`, or
-- `require("fibaro")` from a script). Loaded only then, so plain start-up does not pay for it.
--
-- One file per concern: headers (QA source headers), fqa (exports), devices (records and the
-- type catalogue), events (refresh states), clock (speed time), log, class, json, sdk
-- (`fibaro`/`api`/`plugin`), quickapp (the classes), subscriber, ui, qa (one running QA),
-- router (`_PY.fibaroapi`), routes_devices, offline (in-memory hub), online (forwarding).

local headers = require("fibaro.headers")
local router = require("fibaro.router")
local events = require("fibaro.events")
local clock = require("fibaro.clock")
local qa_module = require("fibaro.qa")

local M = { qas = {} }

local ready = false
local offline = false

-- The hub's additions to the string library that QAs rely on.
local function extend_string()
  if string.split == nil then
    function string.split(text, separator)
      local parts = {}
      for part in text:gmatch("([^" .. (separator or "%s") .. "]+)") do
        parts[#parts + 1] = part
      end
      return parts
    end
  end
  if string.starts == nil then
    function string.starts(text, prefix)
      return text:sub(1, #prefix) == prefix
    end
  end
end

--- Sets up the emulated hub once: `opts.offline` (in-memory hub instead of forwarding),
--- `opts.speed` (emulated clock factor).
function M.setup(opts)
  opts = opts or {}
  if opts.speed then
    clock.set_speed(opts.speed)
  end
  if ready then
    return M
  end
  ready = true
  offline = opts.offline == true
  extend_string()
  require("fibaro.routes_devices").install()
  if offline then
    local hub = require("fibaro.offline")
    hub.install()
    router.set_fallback(hub.fallback)
  else
    router.add("GET", "/refreshStates", function(_, query)
      return events.since(query.last)
    end)
    router.set_fallback(require("fibaro.online").forward, true)
  end
  _PY.fibaroapi = router.call
  _PY.addEvent = function(event)
    if type(event) == "string" then
      event = assert(_PY.parse_json(event))
    end
    return events.add(event)
  end
  _PY.getEvents = events.since
  return M
end

function M.read(path)
  local file, err = io.open(path, "rb")
  if not file then
    return nil, err
  end
  local text = file:read("a")
  file:close()
  return text
end

local function directory_of(path)
  return path:match("^(.*)[/\\][^/\\]*$") or "."
end

-- The description of a `.lua` QA from its headers.
function M.describe_lua(path, source)
  local parsed, err = headers.parse(source, path, function(message)
    io.stderr:write("plua: warning: ", message, "\n")
  end)
  if not parsed then
    return nil, err
  end
  local files = { { name = "main", content = source, isMain = true, path = path } }
  for _, include in ipairs(parsed.files) do
    local include_path = include.path
    local content = M.read(include_path)
    if not content and not include_path:match("^/") then
      include_path = directory_of(path) .. "/" .. include.path
      content = M.read(include_path)
    end
    if not content then
      return nil, ("%s: --%%%%file: cannot read %s"):format(path, include.path)
    end
    files[#files + 1] = { name = include.name, content = content, isMain = false, path = include_path }
  end
  local vars = {}
  for _, var in ipairs(parsed.vars) do
    vars[#vars + 1] = { name = var.name, value = var.value }
  end
  local properties = {}
  for _, key in ipairs({ "manufacturer", "model", "description", "uid", "role" }) do
    if parsed[key] ~= nil then
      local property = ({ description = "userDescription", uid = "quickAppUuid", role = "deviceRole" })[key] or key
      properties[property] = parsed[key]
    end
  end
  return {
    name = parsed.name or path:match("([^/\\]+)%.lua$") or path,
    type = parsed.type,
    id = parsed.id,
    files = files,
    vars = vars,
    ui_rows = require("fibaro.ui").rows_from_headers(parsed.ui),
    interfaces = parsed.interfaces,
    properties = properties,
    headers = parsed,
  }
end

--- Loads the QuickApp in `path` (`.lua` with headers, or `.fqa`) and starts it. Returns the
--- QA context, or nil and a message naming the file.
function M.load(path)
  M.setup()
  local text, err = M.read(path)
  if not text then
    return nil, ("cannot open %s: %s"):format(path, tostring(err))
  end
  local desc
  if path:match("%.fqa$") then
    desc, err = require("fibaro.fqa").decode(text, path)
  else
    desc, err = M.describe_lua(path, text)
  end
  if not desc then
    return nil, err
  end
  if desc.headers and desc.headers.speed then
    clock.set_speed(desc.headers.speed)
  end
  if desc.headers and type(desc.headers.save) == "string" then
    -- `--%%save:name.fqa`: the QA is packed as it starts.
    local saved, message = pcall(require("fibaro.tools").pack_to, path, desc.headers.save)
    io.stderr:write("plua: ", saved and "" or "warning: --%%save: ", tostring(message), "\n")
  end
  local ok, qa = pcall(qa_module.new, desc, router)
  if not ok then
    return nil, ("%s: %s"):format(path, tostring(qa))
  end
  M.qas[#M.qas + 1] = qa
  if desc.headers and desc.headers.project then
    -- `--%%project:...`: a `.project` file beside the QA mapping its files to their paths, with
    -- the emulated id (the format IDE plugins read to update a QA on a hub file by file).
    local project = { id = qa.id, name = desc.name, files = {} }
    for _, file in ipairs(desc.files) do
      project.files[file.name] = file.path
    end
    local out = io.open(directory_of(path) .. "/.project", "w")
    if out then
      out:write(_PY.pretty_print(project), "\n")
      out:close()
    end
  end
  qa:start()
  return qa
end

--- `plua --fibaro`: loads every file of `opts.files` in order. A file that cannot load is
--- reported and the others still run.
function M.run(opts)
  -- `--%%offline:true` in any QA makes the whole hub offline.
  local any_offline = opts.offline
  for _, path in ipairs(opts.files or {}) do
    local text = path:match("%.lua$") and M.read(path)
    if text and (text:match("\n%-%-%%%%offline%s*[:=]%s*true") or text:match("^%-%-%%%%offline%s*[:=]%s*true")) then
      any_offline = true
    end
  end
  M.setup({ offline = any_offline, speed = opts.speed })
  local failures = 0
  for _, path in ipairs(opts.files or {}) do
    local qa, err = M.load(path)
    if not qa then
      io.stderr:write("plua: ", err, "\n")
      failures = failures + 1
    end
  end
  return failures == 0
end

return M
