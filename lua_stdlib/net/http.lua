-- net.HTTPClient (HC3), on top of _PY.http_request_async.
--
--   net.HTTPClient({ timeout = 5000 }):request("http://host/path", {
--     options = { method = "POST", headers = {...}, data = "...", timeout = 2000,   -- ms
--                 checkCertificate = true },
--     success = function(response) end,   -- { status, data, headers } for every HTTP status
--     error = function(message) end,      -- network failures and timeouts ("timeout")
--   })

local PY = _PY

return function(net)
  local HTTPClient = {}
  HTTPClient.__index = HTTPClient

  function net.HTTPClient(opts)
    if opts ~= nil and type(opts) ~= "table" then
      error(("net.HTTPClient: bad argument #1 (table expected, got %s)"):format(type(opts)), 2)
    end
    return setmetatable({ opts = opts or {} }, HTTPClient)
  end

  function HTTPClient:request(url, params)
    if type(url) ~= "string" then
      error(("HTTPClient:request: bad argument #1 (url string expected, got %s)"):format(type(url)), 2)
    end
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
      if response.error then
        if params.error then
          params.error(response.error_message)
        end
      elseif params.success then
        params.success({ status = response.code, data = response.body, headers = response.headers })
      end
    end)
  end
end
