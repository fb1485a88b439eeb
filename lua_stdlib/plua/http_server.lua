-- plua.http_server: `_PY.http_server_start(host, port, handler, opts)` and
-- `_PY.http_server_stop(id)` on the reactor's HTTP/1.1 server (src/http/).
--
-- handler(req) runs in its own coroutine for each request and may yield (sleep, call the HTTP
-- client, wait on a socket) while other connections keep being served. `req` is
-- `{method, path, query = {...}, headers = {lower-case = ...}, body, remote = "ip:port"}`; the
-- handler returns `status, body, headers`: a table body is sent as JSON, nil as empty. Any error
-- in the handler (whatever the error value, even one whose __tostring fails) and any response
-- that cannot be sent (header values that are not strings) answers 500 and is logged; the
-- server goes on.

local M = {}

local type, tostring, pcall, xpcall = type, tostring, pcall, xpcall
local traceback = debug.traceback
local json_body = require("plua.json_body")
local raise = require("plua.checks").raise

function M.install(core, PY, shared)
  local listeners = shared.listeners

  local function bad(index, expected, value)
    raise(("http_server_start: bad argument #%d (%s expected, got %s)"):format(index, expected, type(value)))
  end

  local http_respond = core.http_respond
  local report_error = core.report_error

  -- Text for any error value; never raises (a value whose __tostring fails or gives no string
  -- is named by its type and the failure).
  local function describe(value)
    if type(value) == "string" then
      return value
    end
    local ok, text = pcall(tostring, value)
    if ok and type(text) == "string" then
      return text
    end
    local problem = type(text) == "string" and text or "(no message)"
    return ("(error object is a %s value whose __tostring failed: %s)"):format(type(value), problem)
  end

  -- xpcall's message handler: the error as text with the handler's traceback.
  local function trace(err)
    return traceback(describe(err), 2)
  end

  -- Answers with what the handler returned (ok = false: it raised `status`), normalised.
  local function respond(conn, seq, ok, status, body, headers)
    if not ok then
      report_error("handler", "", describe(status))
      return http_respond(conn, seq, 500, "Internal Server Error\n", nil)
    end
    if type(status) ~= "number" then
      status, body, headers = 200, status, body
    end
    status = math.tointeger(status) or 200
    if status < 100 or status > 999 then
      status = 500
    end
    if type(headers) ~= "table" then
      headers = nil
    end
    if type(body) == "table" then
      body, headers = json_body(PY.to_json, body, headers)
    elseif body == nil then
      body = ""
    elseif type(body) ~= "string" then
      body = tostring(body)
    end
    return http_respond(conn, seq, status, body, headers)
  end

  -- Sends what the handler returned; raises if it cannot be sent (say, a header value that is a
  -- table). The common case (an integer status in range, a string body, a table of headers or
  -- none) goes out as it is: http_respond answers nil for values it would have to normalise.
  local function answer(conn, seq, ok, status, body, headers)
    if ok and http_respond(conn, seq, status, body, headers) ~= nil then
      return
    end
    return respond(conn, seq, ok, status, body, headers)
  end

  --- Starts a server; returns its id and the bound port, or nil and a message.
  function PY.http_server_start(host, port, handler, opts)
    if type(host) ~= "string" then
      bad(1, "string", host)
    end
    port = require("plua.checks").port("http_server_start", 2, port)
    if type(handler) ~= "function" then
      bad(3, "function", handler)
    end
    require("plua.checks").fields("http_server_start", 4, opts, { tls = { cert = "string", key = "string" },
      websocket = "table", max_header_size = "number", max_headers = "number",
      max_body_size = "number", max_connections = "number", idle_timeout = "number",
      read_timeout = "number" })
    -- A name is looked up on the worker pool (only this coroutine waits), then bound by IP.
    local ip, failure = require("plua.sockets").lookup(host)
    if not ip then
      return nil, failure
    end
    local id, bound = core.http_server_start(ip, port, opts)
    if not id then
      return nil, bound
    end
    listeners[id] = {
      request = function(conn, seq, req)
        local ok, status, body, headers = xpcall(handler, trace, req)
        -- Without headers, http_respond cannot fail: the common case needs no pcall.
        if ok and headers == nil and http_respond(conn, seq, status, body, nil) ~= nil then
          return
        end
        local sent, problem = pcall(answer, conn, seq, ok, status, body, headers)
        if not sent then
          report_error("handler", "", "cannot send its response: " .. describe(problem))
          http_respond(conn, seq, 500, "Internal Server Error\n", nil)
        end
      end,
    }
    return id, bound
  end

  --- Stops a server and closes its connections; false if there is no such server.
  function PY.http_server_stop(id)
    id = require("plua.checks").id("http_server_stop", 1, id, "server id")
    local stopped = core.http_server_stop(id)
    listeners[id] = nil
    return stopped
  end
end

return M
