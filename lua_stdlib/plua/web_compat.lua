-- plua.web_compat: the original plua's single "web server" family, on top of
-- _PY.http_server_start. Unlike the original, a running web server keeps the process alive, the
-- callback is called for every request without polling, and it may answer the request itself.
--
--   _PY.start_web_server(port = 8080, host = "127.0.0.1")   -> true, message | false, message
--   _PY.stop_web_server()                                    -> true, message | false, message
--   _PY.is_web_server_running()                              -> boolean
--   _PY.get_web_server_status()                              -> { running, port, host, process_id }
--   _PY.register_web_callback("http_request", fn)            -> true, message
--   _PY.unregister_web_callback("http_request")              -> true, message | false, message
--   _PY.get_web_server_message()                             -> next queued request or nil
--   _PY.add_route(method, pattern, handler)                  -> true
--
-- A request message is { type = "http_request", method, path, query = { name = { values } },
-- headers, body } (a JSON body is decoded). With a callback registered, fn(message) runs for
-- each request and may return `status, body, headers`; if it returns nothing (or there is no
-- callback, in which case the message is queued for get_web_server_message) the answer is
-- 200 {"status":"received"} as in the original.
--
-- Routes (plua.router, the form the original's README documents): handler(req, res) gets the
-- `_PY.http_server_start` request with `req.params` (`/devices/{id}` → `req.params.id`) and
-- returns `status, body, headers`. Routes may be added before or after the server starts. A
-- request no route matches goes to the callback (or the queue) as above; once routes exist and
-- no callback is registered, it gets a 404 JSON instead (405 with `Allow` when only the method
-- is wrong).

local M = {}

local MAX_QUEUE = 1000
local raise = require("plua.checks").raise

function M.install(PY)
  local server = nil -- { id, port, host }
  local callbacks = {}
  local queue = {}
  local router = require("plua.router").new()

  local function message_of(req)
    local query = {}
    for key, value in pairs(req.query) do
      query[key] = { value }
    end
    local body = req.body
    if body ~= "" and (req.method == "POST" or req.method == "PUT") then
      local decoded = PY.parse_json(body)
      if decoded ~= nil then
        body = decoded
      end
    elseif body == "" then
      body = nil
    end
    return { type = "http_request", method = req.method, path = req.path, query = query, headers = req.headers, body = body }
  end

  local function unrouted(req)
    local message = message_of(req)
    local fn = callbacks.http_request
    if fn then
      local status, body, headers = fn(message)
      if status ~= nil then
        return status, body, headers
      end
    elseif #queue < MAX_QUEUE then
      queue[#queue + 1] = message
    end
    return 200, { status = "received", message = "Request received and queued" }
  end

  local function handle(req, res)
    if router:is_empty() then
      return unrouted(req)
    end
    return router:dispatch(req, res, callbacks.http_request and unrouted or nil)
  end

  function PY.add_route(method, pattern, handler)
    router:add(method, pattern, handler, "add_route")
    return true
  end

  function PY.start_web_server(port, host)
    local checks = require("plua.checks")
    if port ~= nil then
      port = checks.port("start_web_server", 1, port)
    end
    if host ~= nil then
      host = checks.string("start_web_server", 2, host)
    end
    if server then
      return false, ("Web server already running on http://%s:%d"):format(server.host, server.port)
    end
    port = port or 8080
    host = host or "127.0.0.1"
    local id, bound = PY.http_server_start(host, port, handle)
    if not id then
      return false, bound
    end
    server = { id = id, port = bound, host = host }
    return true, ("Web server started on http://%s:%d"):format(host, bound)
  end

  function PY.stop_web_server()
    if not server then
      return false, "Web server is not running"
    end
    PY.http_server_stop(server.id)
    server = nil
    return true, "Web server stopped"
  end

  function PY.is_web_server_running()
    return server ~= nil
  end

  function PY.get_web_server_status()
    return {
      running = server ~= nil,
      port = server and server.port or nil,
      host = server and server.host or nil,
      process_id = nil,
    }
  end

  function PY.register_web_callback(event, fn)
    if type(event) ~= "string" then
      raise(("register_web_callback: bad argument #1 (string expected, got %s)"):format(type(event)))
    end
    if type(fn) ~= "function" then
      raise(("register_web_callback: bad argument #2 (function expected, got %s)"):format(type(fn)))
    end
    callbacks[event] = fn
    return true, ("Callback registered for %s"):format(event)
  end

  function PY.unregister_web_callback(event)
    if type(event) ~= "string" then
      raise(("unregister_web_callback: bad argument #1 (string expected, got %s)"):format(type(event)))
    end
    if callbacks[event] == nil then
      return false, ("No callback registered for %s"):format(event)
    end
    callbacks[event] = nil
    return true, ("Callback unregistered for %s"):format(event)
  end

  function PY.get_web_server_message()
    return table.remove(queue, 1)
  end

  -- The original needed this to start polling; callbacks here run as requests arrive.
  function PY.start_web_message_processing()
    return true
  end
end

return M
