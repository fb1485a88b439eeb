-- fibaro.api_server: the embedded HC3 REST API server and the web UI, a plua HTTP server on
-- the Lua thread (`_PY.http_server_start`) with the WebSocket route `/ws/quickapps` on the same
-- port. It owns start-up (address, port, Basic auth, the warnings), access checks and the
-- dispatch of a request: `/api/*` goes to the emulator's router (`fibaro.router`), the
-- server's own endpoints are in `fibaro.api_routes`, the static web UI is embedded
-- (`fibaro/web/`), and the WebSocket push is `fibaro.api_ws`.

local router = require("fibaro.router")
local routes = require("fibaro.api_routes")
local api_ws = require("fibaro.api_ws")

local M = {}

local DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000

local to_json, parse_json = _PY.to_json, _PY.parse_json
local JSON = { ["Content-Type"] = "application/json" }

-- The web UI: URL path -> embedded file and content type.
local STATIC = {
  ["/"] = { "fibaro/web/index.html", "text/html; charset=utf-8" },
  ["/index.html"] = { "fibaro/web/index.html", "text/html; charset=utf-8" },
  ["/app.js"] = { "fibaro/web/app.js", "text/javascript; charset=utf-8" },
  ["/style.css"] = { "fibaro/web/style.css", "text/css; charset=utf-8" },
}

local function error_body(status, reason)
  return status, to_json({ type = "ERROR", reason = reason }), JSON
end

--- Is `host` a loopback address (or a name for one)?
function M.is_loopback(host)
  host = tostring(host):lower():gsub("^%[", ""):gsub("%]$", "")
  return host == "localhost" or host == "::1" or host:match("^127%.%d+%.%d+%.%d+$") ~= nil
end

-- A `.plua.lua` setting, or nil.
local function config(key)
  local ok, value = pcall(function()
    return _PY.pluaconfig[key]
  end)
  if ok and value ~= nil then
    return value
  end
end

local function percent(text)
  return (tostring(text):gsub("[^%w%-%._~]", function(c)
    return ("%%%02X"):format(c:byte())
  end))
end

-- The request's query table as a query string again (the router decodes the path it gets).
local function query_string(query)
  local parts = {}
  for key, value in pairs(query) do
    parts[#parts + 1] = percent(key) .. "=" .. percent(value)
  end
  if #parts == 0 then
    return ""
  end
  table.sort(parts)
  return "?" .. table.concat(parts, "&")
end

-- `/api/*` through the router: the JSON body decoded, `(data, status)` as a JSON answer.
local function api_call(req)
  local data, body = nil, req.body
  if body ~= nil and body ~= "" then
    local err
    data, err = parse_json(body)
    if err then
      return error_body(400, "bad JSON body: " .. tostring(err))
    end
  end
  local path = req.path
  if next(req.query) ~= nil then
    path = path .. query_string(req.query)
  end
  local method = req.method
  if method == "HEAD" then
    method = "GET" -- the server sends the head of the GET answer
  end
  local result, status = router.call(method, path, data)
  status = math.tointeger(status) or 200
  if result == nil then
    return status, "", JSON
  end
  local ok, text = pcall(to_json, result)
  if not ok then
    return error_body(500, "cannot encode the answer as JSON: " .. tostring(text))
  end
  return status, text, JSON
end

-- GET /api/devices/{id} of emulated QAs and their children, the hot route of tools that poll a
-- hub: path -> {router.version, JSON text}. An entry is current while no state-changing router
-- call (any method but GET, also the QAs' own `api.*` calls) ran since it was made.
local device_cache = {}

local function cache_device(req, status, text)
  local id = status == 200 and req.path:match("^/api/devices/(%d+)$")
  if id and next(req.query) == nil and require("fibaro.devices").qa_of(tonumber(id)) then
    device_cache[req.path] = { router.version, text }
  end
end

-- The server's own endpoints before the router's (`/api/quickapps`, long-polled
-- refreshStates, proxy, execute).
local OWN = routes.table()

local function static(req, server)
  local entry = STATIC[req.path]
  if not entry then
    return error_body(404, ("no such page: %s"):format(req.path))
  end
  if req.method ~= "GET" and req.method ~= "HEAD" then
    return error_body(405, ("method %s not allowed on %s"):format(req.method, req.path))
  end
  local text = server.files[entry[1]]
  if not text then
    text = _PY.embedded_file(entry[1]) or ""
    server.files[entry[1]] = text
  end
  return 200, text, { ["Content-Type"] = entry[2], ["Cache-Control"] = "no-cache" }
end

local UNAUTHORIZED = { ["Content-Type"] = "application/json", ["WWW-Authenticate"] = 'Basic realm="plua"' }

-- The request handler of server `server`.
local function handler_for(server)
  local expected = server.auth
  return function(req)
    if expected and req.headers.authorization ~= expected then
      return 401, to_json({ type = "ERROR", reason = "authentication required" }), UNAUTHORIZED
    end
    local path = req.path
    local own = OWN[path]
    if own then
      return own(req, server)
    end
    if path:sub(1, 5) == "/api/" then
      local get = req.method == "GET"
      if get then
        local entry = device_cache[path]
        if entry and entry[1] == router.version and next(req.query) == nil then
          return 200, entry[2], JSON
        end
      end
      if path:sub(1, 15) == "/api/quickapps/" then
        return routes.quickapp(req, server)
      end
      local status, text, headers = api_call(req)
      if get then
        cache_device(req, status, text)
      end
      return status, text, headers
    end
    return static(req, server)
  end
end

--- Starts the server: `opts = {host, port, user, password, keep_alive}`. Returns the server
--- `{id, host, port, ...}`, or nil and a message (the port in use, a bad address).
function M.start(opts)
  opts = opts or {}
  local host = opts.host or DEFAULT_HOST
  local port = opts.port or DEFAULT_PORT
  local user = opts.user or config("api_user")
  local password = opts.password or config("api_password")
  local server = {
    host = host,
    files = {},
    started = os.time(),
    loopback = M.is_loopback(host),
    proxy_hosts = config("api_proxy_hosts"),
  }
  if user then
    server.auth = "Basic " .. _PY.base64_encode(tostring(user) .. ":" .. tostring(password or ""))
  end
  -- `/api/execute` runs arbitrary code: only with auth or on a loopback address.
  server.execute = server.auth ~= nil or server.loopback
  server.ws = api_ws.start(server)
  local id, bound = _PY.http_server_start(host, port, handler_for(server), {
    websocket = { ["/ws/quickapps"] = server.ws.sid },
  })
  if not id then
    server.ws.stop()
    return nil, ("cannot start the API server on %s:%s: %s"):format(host, tostring(port), tostring(bound))
  end
  server.id, server.port = id, bound
  if not opts.keep_alive then
    _PY.unref(id)
  end
  if not server.loopback and not server.auth then
    io.stderr:write(
      ("plua: warning: the API server listens on %s without authentication (set --api-user and --api-password)\n"):format(host)
    )
  end
  M.server = server
  print(("API server on http://%s:%d"):format(host:find(":") and ("[" .. host .. "]") or host, bound))
  return server
end

--- The runtime's entry: `fibaro` (true for a `--fibaro` run, which the server keeps alive),
--- then the command line's "enabled", host, port, user, password ("" = not given). A server
--- that cannot start ends the process with status 1.
function M.start_from_args(fibaro, enabled, host, port, user, password)
  if enabled ~= "true" then
    return nil
  end
  local function given(text)
    return text ~= nil and text ~= "" and text or nil
  end
  local server, err = M.start({
    host = given(host),
    port = tonumber(given(port)),
    user = given(user),
    password = given(password),
    keep_alive = fibaro,
  })
  if not server then
    io.stderr:write("plua: ", err, "\n")
    io.stderr:flush()
    os.exit(1)
  end
  return server
end

--- Stops the running server (and its WebSocket clients).
function M.stop()
  local server = M.server
  if server then
    _PY.http_server_stop(server.id)
    server.ws.stop()
    M.server = nil
  end
end

return M
