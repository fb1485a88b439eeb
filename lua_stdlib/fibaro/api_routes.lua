-- fibaro.api_routes: the API server's own endpoints, answered before the emulator's router:
-- `/health`, `/api/status`, `/api/quickapps[/{id}]` (the QAs and their UI for the web page),
-- `/api/refreshStates?last=N` long-polled (at once when newer events exist, else up to 30 s,
-- suspending only its own request), `/api/proxy?url=` (fetched on the worker pool; loopback
-- only unless `.plua.lua` lists `api_proxy_hosts`) and `/api/execute {code}`.

local router = require("fibaro.router")
local events = require("fibaro.events")

local M = {}

local to_json, parse_json = _PY.to_json, _PY.parse_json
local JSON = { ["Content-Type"] = "application/json" }

M.LONG_POLL = 30 -- seconds a refreshStates request waits for a newer event
local POLL_STEP = 0.02 -- seconds between checks while it waits
local PROXY_TIMEOUT = 30 -- seconds

local function answer(status, data)
  return status, to_json(data), JSON
end

local function failure(status, reason)
  return answer(status, { type = "ERROR", reason = reason })
end

-- Wraps `fn(req, server)` so that only `methods` reach it (405 otherwise).
local function only(methods, fn)
  local allowed = {}
  for _, method in ipairs(methods) do
    allowed[method] = true
  end
  return function(req, server)
    if not allowed[req.method] then
      return failure(405, ("method %s not allowed on %s"):format(req.method, req.path))
    end
    return fn(req, server)
  end
end

local function emulator()
  return package.loaded["fibaro"] or require("fibaro")
end

-- One QA (or child device) as the web UI shows it: its record and its UI rows and state.
local function describe(qa, id)
  local record = router.call("GET", "/devices/" .. id)
  local view = qa:view(id)
  return {
    id = id,
    name = record and record.name,
    type = record and record.type,
    parentId = record and record.parentId or 0,
    enabled = record and record.enabled,
    properties = record and record.properties,
    ui = { rows = _PY.json_array(view.rows or {}), state = view.state or {} },
  }
end

--- Every emulated QA and its children, in id order.
function M.quickapps()
  local list = {}
  for _, qa in ipairs(emulator().qas) do
    list[#list + 1] = describe(qa, qa.id)
    local children = router.call("GET", "/devices?parentId=" .. qa.id)
    if type(children) == "table" then
      for _, child in ipairs(children) do
        list[#list + 1] = describe(qa, child.id)
      end
    end
  end
  return _PY.json_array(list)
end

local function quickapp(id)
  for _, entry in ipairs(M.quickapps()) do
    if entry.id == id then
      return entry
    end
  end
end

--- `GET /api/quickapps/{id}`.
M.quickapp = only({ "GET", "HEAD" }, function(req)
  local id = math.tointeger(tonumber(req.path:match("^/api/quickapps/(%d+)$")))
  local entry = id and quickapp(id)
  if not entry then
    return failure(404, ("no QuickApp %s"):format(req.path:match("[^/]*$")))
  end
  return answer(200, entry)
end)

-- `GET /api/refreshStates?last=N`: waits (suspending only this request) until an event newer
-- than N exists, at most LONG_POLL seconds, then answers as the router does.
local function refresh_states(req)
  local last = tonumber(req.query.last) or 0
  local waited = 0
  while events.last() <= last and waited < M.LONG_POLL do
    _PY.sleep(POLL_STEP)
    waited = waited + POLL_STEP
  end
  return answer(200, router.call("GET", "/refreshStates?last=" .. math.floor(last)))
end

local function proxy_allowed(server, host)
  if require("fibaro.api_server").is_loopback(host) then
    return true
  end
  local allowed = server.proxy_hosts
  if allowed == "*" then
    return true
  end
  if type(allowed) == "table" then
    for _, name in ipairs(allowed) do
      if tostring(name):lower() == host:lower() then
        return true
      end
    end
  end
  return false
end

-- `GET /api/proxy?url=...`: the URL fetched with ureq on the worker pool; the answer's status,
-- body and content type passed on.
local function proxy(req, server)
  local url = req.query.url
  if type(url) ~= "string" or url == "" then
    return failure(400, "proxy: the query parameter 'url' is missing")
  end
  local host = url:match("^[hH][tT][tT][pP][sS]?://%[([^%]]+)%]") or url:match("^[hH][tT][tT][pP][sS]?://([^/:?#@]+)")
  if not host then
    return failure(400, ("proxy: not an http(s) URL: %s"):format(url))
  end
  if not proxy_allowed(server, host) then
    return failure(403, ("proxy: host %s is not allowed (loopback only; .plua.lua api_proxy_hosts adds hosts)"):format(host))
  end
  local result
  _PY.http_request_blocking_pool({ url = url, method = "GET", timeout = PROXY_TIMEOUT }, function(response)
    result = response
  end)
  local waited = 0
  while result == nil and waited < PROXY_TIMEOUT + 5 do
    _PY.sleep(0.005)
    waited = waited + 0.005
  end
  if result == nil or (result.code or 0) == 0 then
    return failure(502, ("proxy: %s: %s"):format(url, tostring(result and result.error_message or "timeout")))
  end
  local headers = result.headers or {}
  return result.code, result.body or "", { ["Content-Type"] = headers["content-type"] or "application/octet-stream" }
end

-- `POST /api/execute {code}`: runs Lua code (an expression or statements) in an environment
-- over the globals with `print` captured; `{success, result, output, error}`.
local function execute(req, server)
  if not server.execute then
    return failure(403, "execute is off: the server listens on a non-loopback address without authentication")
  end
  local data, err = parse_json(req.body or "")
  if err or type(data) ~= "table" or type(data.code) ~= "string" then
    return failure(400, "execute: a JSON body {\"code\": \"...\"} expected" .. (err and (": " .. err) or ""))
  end
  local output = {}
  local env = setmetatable({}, { __index = _G })
  env.print = function(...)
    local parts = table.pack(...)
    for i = 1, parts.n do
      parts[i] = tostring(parts[i])
    end
    output[#output + 1] = table.concat(parts, "\t", 1, parts.n)
  end
  local chunk, load_err = load("return " .. data.code, "=(execute)", "t", env)
  if not chunk then
    chunk, load_err = load(data.code, "=(execute)", "t", env)
  end
  local result = { success = false, output = table.concat(output, "\n") }
  if not chunk then
    result.error = load_err
    return answer(200, result)
  end
  local ok, value = xpcall(chunk, debug.traceback)
  result.output = table.concat(output, "\n")
  if not ok then
    result.error = tostring(value)
    return answer(200, result)
  end
  result.success = true
  local kind = type(value)
  if kind == "table" then
    local encodable = pcall(to_json, value)
    result.result = encodable and value or tostring(value)
  elseif kind == "function" or kind == "userdata" or kind == "thread" then
    result.result = tostring(value)
  else
    result.result = value
  end
  return answer(200, result)
end

--- The endpoints by exact path: `fn(req, server)` → `status, body, headers`.
function M.table()
  return {
    ["/health"] = only({ "GET", "HEAD" }, function()
      return answer(200, { status = "ok" })
    end),
    ["/api/status"] = only({ "GET", "HEAD" }, function(_, server)
      local qas = emulator().qas
      return answer(200, {
        status = "running",
        version = _PY.version,
        host = server.host,
        port = server.port,
        uptime = os.time() - server.started,
        quickapps = #qas,
        lastEvent = events.last(),
        websocketClients = server.ws.count(),
      })
    end),
    ["/api/quickapps"] = only({ "GET", "HEAD" }, function()
      return answer(200, M.quickapps())
    end),
    ["/api/refreshStates"] = only({ "GET" }, refresh_states),
    ["/api/proxy"] = only({ "GET" }, proxy),
    ["/api/execute"] = only({ "POST" }, execute),
  }
end

return M
