-- net.HTTPClient (HC3), on top of _PY.http_request_async.
--
--   net.HTTPClient({ timeout = 5000 }):request("http://host/path", {
--     options = { method = "POST", headers = {...}, data = "...", timeout = 2000,   -- ms
--                 checkCertificate = true },
--     success = function(response) end,   -- { status, data, headers } for every HTTP status
--     error = function(message) end,      -- network failures and timeouts ("timeout")
--   })

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
  local HTTPServer = {}
  HTTPServer.__index = HTTPServer

  function net.HTTPServer()
    return setmetatable({ id = nil }, HTTPServer)
  end

  function HTTPServer:start(host, port, handler)
    if host ~= nil then
      host = checks.string("net.HTTPServer:start", 1, host)
    end
    port = checks.port("net.HTTPServer:start", 2, port)
    if type(handler) ~= "function" then
      checks.bad("net.HTTPServer:start", 3, "function", handler)
    end
    if host == nil or host == "localhost" then
      host = "127.0.0.1"
    end
    local id, bound = PY.http_server_start(host, port, function(req)
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
    end)
    if not id then
      return false, bound
    end
    self.id, self.port = id, bound
    return true, bound
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
    })
    params = params or {}
    local options = params.options or {}
    local ms = tonumber(options.timeout) or tonumber(self.opts.timeout)
    PY.http_request_async({
      url = url,
      method = options.method or "GET",
      headers = options.headers,
      body = options.data,
      timeout = ms and ms / 1000 or 30,
      verify = options.checkCertificate ~= false,
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
