-- plua.http_server: `_PY.http_server_start(host, port, handler, opts)` and
-- `_PY.http_server_stop(id)` on the reactor's HTTP/1.1 server (src/http/).
--
-- handler(req, res) runs in its own coroutine for each request and may yield (sleep, call the
-- HTTP client, wait on a socket) while other connections keep being served. `req` is
-- `{method, path, query = {...}, headers = {lower-case = ...}, body, remote = "ip:port"}`; the
-- handler returns `status, body, headers`: a table body is sent as JSON, nil as empty, a
-- function body is called for the pieces of a streamed (chunked) response. `res`
-- (plua.http_response) streams a response by hand: res:write(chunk), res:finish(). Handlers
-- declared with one parameter get no `res` (nothing is made for them). Any error
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
  local responses = require("plua.http_response").install(core, shared.await, core.report_error)

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

  -- The handler's answer when it was given `res`: a response it started is its own; a
  -- function body is streamed; anything else is sent as from a one-parameter handler.
  local function answer_with_res(handler, conn, seq, req)
    local res = responses.new(conn, seq)
    local ok, status, body, headers = xpcall(handler, trace, req, res)
    if not ok and not res.started then
      return answer(conn, seq, ok, status, body, headers)
    end
    if not ok then
      report_error("handler", "", describe(status))
    elseif not res.started then
      if type(status) == "function" then
        status, body, headers = 200, status, body
      end
      if type(body) ~= "function" then
        local sent, problem = pcall(answer, conn, seq, ok, status, body, headers)
        if not sent then
          report_error("handler", "", "cannot send its response: " .. describe(problem))
          http_respond(conn, seq, 500, "Internal Server Error\n", nil)
        end
        return
      end
      local streamed, problem = xpcall(responses.stream, trace, res, status, body, headers)
      if streamed then
        return
      end
      report_error("handler", "", describe(problem))
      if not res.started then
        return http_respond(conn, seq, 500, "Internal Server Error\n", nil)
      end
    else
      return -- started by the handler: it ends with res:finish(), whoever calls it
    end
    -- Failed half-way through a stream: close, so the client cannot take the truncated
    -- body for a whole one.
    if not res.finished then
      core.http_conn_close(conn)
    end
  end

  -- True if `handler` takes a second parameter (`res`).
  local function takes_res(handler)
    local info = debug.getinfo(handler, "u")
    return info.nparams >= 2 or info.isvararg
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
    if takes_res(handler) then
      listeners[id] = {
        request = function(conn, seq, req)
          return answer_with_res(handler, conn, seq, req)
        end,
        stream_closed = responses.closed,
      }
      return id, bound
    end
    listeners[id] = {
      stream_closed = responses.closed,
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

  --- Serves the files of `directory` under `prefix` on server `id` (GET and HEAD, answered
  --- by the reactor without entering Lua); true, or nil and a message.
  function PY.http_server_static(id, prefix, directory, options)
    local checks = require("plua.checks")
    id = checks.id("http_server_static", 1, id, "server id")
    prefix = checks.string("http_server_static", 2, prefix)
    directory = checks.string("http_server_static", 3, directory)
    checks.fields("http_server_static", 4, options, { index = "string", cache = "number" })
    if prefix:sub(1, 1) ~= "/" then
      return nil, ("static: prefix must start with '/', got '%s'"):format(prefix)
    end
    return core.http_static(id, prefix, directory, options)
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
