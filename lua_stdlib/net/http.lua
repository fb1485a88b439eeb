-- net.HTTPClient (HC3), on top of _PY.http_request_async.
--
--   net.HTTPClient({ timeout = 5000 }):request("http://host/path", {
--     options = { method = "POST", headers = {...}, data = "...", timeout = 2000,   -- ms
--                 checkCertificate = true },
--     success = function(response) end,   -- { status, data, headers } for every HTTP status
--     error = function(message) end,      -- network failures and timeouts ("timeout")
--     chunk = function(data) end,         -- optional: a 2xx body piece by piece as it arrives
--   })                                    -- (success then gets data = ""; no default timeout)

local PY = _PY
local checks = require("plua.checks")
-- Callback tables: `{ success = fn, error = fn }`, both optional.
local CALLBACKS = { success = "function", error = "function" }

return function(net)
  local HTTPClient = {}
  HTTPClient.__index = HTTPClient

  function net.HTTPClient(opts)
    checks.fields("net.HTTPClient", 1, opts, { timeout = "number", checkCertificate = "boolean" })
    return setmetatable({ opts = opts or {} }, HTTPClient)
  end

  --- net.HTTPServer(): `:start(host, port, handler)` where handler(method, path, body, headers)
  --- returns `data, status, headers` (status 200 by default; a table is sent as JSON). `path`
  --- includes the query string. Returns true and the bound port, or false and a message.
  --- Routes and static files (before or after start; each returns the server):
  ---   :route(method, pattern, fn) and :get/:post/:put/:delete/:patch(pattern, fn), where
  ---   fn(req, res) gets the `_PY.http_server_start` request with `req.params` (`/devices/{id}`
  ---   → `req.params.id`) and returns `status, body, headers`; unmatched requests go to the
  ---   start handler if there is one, else get a 404 JSON (405 with `Allow` when only the
  ---   method is wrong).
  ---   :static(prefix, directory, { index = "index.html", cache = seconds }) serves files
  ---   (see src/http/static_files.rs); a file that does not exist falls through to the routes.
  local HTTPServer = {}
  HTTPServer.__index = HTTPServer

  function net.HTTPServer()
    return setmetatable({ id = nil, router = nil, mounts = {} }, HTTPServer)
  end

  -- The one-handler form's calling convention.
  local function plain_handler(handler)
    return function(req)
      local path = req.path
      local query = {}
      for key, value in pairs(req.query) do
        query[#query + 1] = key .. "=" .. value
      end
      if #query > 0 then
        table.sort(query)
        path = path .. "?" .. table.concat(query, "&")
      end
      local data, status, headers = handler(req.method, path, req.body, req.headers)
      return status or 200, data, headers
    end
  end

  local function mount(id, spec)
    local ok, problem = PY.http_server_static(id, spec.prefix, spec.directory, spec.options)
    if not ok then
      return false, problem
    end
    return true
  end

  function HTTPServer:start(host, port, handler)
    if host ~= nil then
      host = checks.string("net.HTTPServer:start", 1, host)
    end
    port = checks.port("net.HTTPServer:start", 2, port)
    local has_routes = self.router ~= nil or #self.mounts > 0
    if handler ~= nil and type(handler) ~= "function" or handler == nil and not has_routes then
      checks.bad("net.HTTPServer:start", 3, "function", handler)
    end
    if host == nil or host == "localhost" then
      host = "127.0.0.1"
    end
    local fallback = handler and plain_handler(handler)
    local serve = fallback
    if has_routes or handler == nil then
      self.router = self.router or require("plua.router").new()
      local router = self.router
      serve = function(req, res)
        return router:dispatch(req, res, fallback)
      end
    end
    local id, bound = PY.http_server_start(host, port, serve)
    if not id then
      return false, bound
    end
    for _, spec in ipairs(self.mounts) do
      local ok, problem = mount(id, spec)
      if not ok then
        PY.http_server_stop(id)
        return false, problem
      end
    end
    self.id, self.port = id, bound
    return true, bound
  end

  function HTTPServer:route(method, pattern, fn)
    if self.id and not self.router then
      checks.raise("net.HTTPServer:route: routes must be added before start() when the server has a start handler")
    end
    self.router = self.router or require("plua.router").new()
    self.router:add(method, pattern, fn, "net.HTTPServer:route")
    return self
  end

  for _, method in ipairs({ "get", "post", "put", "delete", "patch" }) do
    local upper = method:upper()
    HTTPServer[method] = function(self, pattern, fn)
      if self.id and not self.router then
        checks.raise(("net.HTTPServer:%s: routes must be added before start() when the server has a start handler"):format(method))
      end
      self.router = self.router or require("plua.router").new()
      self.router:add(upper, pattern, fn, "net.HTTPServer:" .. method)
      return self
    end
  end

  function HTTPServer:static(prefix, directory, options)
    local name = "net.HTTPServer:static"
    prefix = checks.string(name, 1, prefix)
    directory = checks.string(name, 2, directory)
    checks.fields(name, 3, options, { index = "string", cache = "number" })
    local spec = { prefix = prefix, directory = directory, options = options }
    if self.id then
      local ok, problem = mount(self.id, spec)
      if not ok then
        checks.raise(name .. ": " .. problem)
      end
    end
    self.mounts[#self.mounts + 1] = spec
    return self
  end

  function HTTPServer:stop()
    if self.id then
      PY.http_server_stop(self.id)
      self.id = nil
    end
  end

  function HTTPClient:request(url, params)
    if type(url) ~= "string" then
      checks.bad("net.HTTPClient:request", 1, "url string", url)
    end
    checks.fields("net.HTTPClient:request", 2, params, {
      options = { method = "string", headers = "table", data = "string", timeout = "number",
        checkCertificate = "boolean" },
      success = "function",
      error = "function",
      chunk = "function",
    })
    params = params or {}
    local options = params.options or {}
    local ms = tonumber(options.timeout) or tonumber(self.opts.timeout)
    PY.http_request_async({
      url = url,
      method = options.method or "GET",
      headers = options.headers,
      body = options.data,
      timeout = ms and ms / 1000 or (not params.chunk and 30 or nil),
      verify = options.checkCertificate ~= false,
      chunk = params.chunk and function(data)
        return params.chunk(data)
      end,
    }, function(response)
      if response.error and response.code == 0 then -- a network failure, not a status
        if params.error then
          params.error(response.error_message)
        end
      elseif params.success then
        params.success({ status = response.code, data = response.body, headers = response.headers })
      end
    end)
  end
end
