-- plua.websocket: the `_PY.websocket_*` client and `_PY.websocket_server_*` families on the
-- reactor's WebSocket layer (src/net/ws/, primitives in src/api/websocket.rs). Here live the
-- argument checks (errors name the function and argument and point at the caller's line) and
-- the listeners; every event runs in its own coroutine.
--
-- Client events: connected(), dataReceived(data, is_binary), error(message),
-- disconnected(code, reason). Server events: client_connected(client, request),
-- message(client, data, is_binary), client_disconnected(client, code, reason),
-- error(message, client). Several listeners on one event run in the order they were added;
-- an error in one does not keep the others from running.
--
-- websocket_close ends a client: once its `disconnected` listeners have run (at once if it is
-- not connected), its listeners are dropped and its id forgotten, so a create/connect/close
-- loop does not grow memory. A client closed by the peer stays usable for a reconnect.

local M = {}

local type, error, tostring, xpcall = type, error, tostring, xpcall
local traceback = debug.traceback

function M.install(core, PY, shared)
  local listeners = shared.listeners

  local checks = require("plua.checks")
  local bad, want_id, want_data, want_table = checks.bad, checks.id, checks.string, checks.table
  local want_code = checks.close_code

  local report_error = core.report_error
  local function report(event, message)
    report_error("callback", event, tostring(message))
  end

  local function add_listener(name, known, id, event, fn)
    id = want_id(name, 1, id, "id")
    if type(event) ~= "string" then
      bad(name, 2, "event name", event)
    end
    if not known[event] then
      checks.raise(("%s: bad argument #2 (unknown event '%s'; expected %s)"):format(name, event, known[1]))
    end
    if type(fn) ~= "function" then
      bad(name, 3, "function", fn)
    end
    local of_owner = listeners[id]
    if not of_owner then
      of_owner = {}
      listeners[id] = of_owner
    end
    local before = of_owner[event]
    if before then
      -- An error in one listener is reported as the runtime reports callback errors, and the
      -- later listeners still run.
      of_owner[event] = function(...)
        local ok, message = xpcall(before, traceback, ...)
        if not ok then
          report(event, message)
        end
        return fn(...)
      end
    else
      of_owner[event] = fn
    end
    return true
  end

  ---------------------------------------------------------------------------------------------
  -- Client
  ---------------------------------------------------------------------------------------------

  -- Forgets client `id` (Rust side and listeners) if it has no connection left; true if so.
  local function release(id)
    if core.ws_client_release(id) then
      listeners[id] = nil
      return true
    end
    return false
  end

  -- Releases client `id` right after its next `disconnected` listeners have run, unless they
  -- connect it again.
  local function release_after_disconnect(id)
    local of_owner = listeners[id]
    if not of_owner then
      of_owner = {}
      listeners[id] = of_owner
    end
    local user = of_owner.disconnected
    of_owner.disconnected = function(...)
      of_owner.disconnected = user
      if user then
        local ok, message = xpcall(user, traceback, ...)
        if not ok then
          report("disconnected", message)
        end
      end
      release(id)
    end
  end

  local client_events = {
    connected = true,
    disconnected = true,
    error = true,
    dataReceived = true,
    "connected, disconnected, error or dataReceived",
  }

  --- A new client id; connect it with websocket_connect.
  function PY.websocket_client_create()
    return core.ws_client_create()
  end

  function PY.websocket_add_event_listener(id, event, fn)
    return add_listener("websocket_add_event_listener", client_events, id, event, fn)
  end

  --- Connects client `id` to a ws:// or wss:// URL with extra handshake `headers`. `opts`:
  --- `timeout` (seconds, connect + handshake), `verify` (default true), `cafile`,
  --- `max_message_size`, `max_input` (bytes of unconsumed messages at which reading pauses). Returns true (the outcome arrives as `connected` or `error`), or
  --- false and a message for an unknown or already connected id.
  function PY.websocket_connect(id, url, headers, opts)
    id = want_id("websocket_connect", 1, id, "client id")
    if type(url) ~= "string" then
      bad("websocket_connect", 2, "URL string", url)
    end
    want_table("websocket_connect", 3, headers)
    checks.fields("websocket_connect", 4, opts, { verify = "boolean", cafile = "string",
      timeout = "number", max_message_size = "integer" })
    local ok, message = core.ws_connect(id, url, headers, opts)
    if not ok then
      return false, message
    end
    return true
  end

  --- Sends `data` (text unless `binary` is true); true, or false and a message.
  function PY.websocket_send(id, data, binary)
    id = want_id("websocket_send", 1, id, "client id")
    data = want_data("websocket_send", 2, data)
    local ok, message = core.ws_send(id, data, binary == true)
    if not ok then
      return false, message
    end
    return true
  end

  function PY.websocket_is_open(id)
    id = want_id("websocket_is_open", 1, id, "client id")
    return core.ws_is_open(id)
  end

  --- Starts the closing handshake (code 1000 unless given); `disconnected` follows.
  function PY.websocket_close(id, code, reason)
    id = want_id("websocket_close", 1, id, "client id")
    code = want_code("websocket_close", 2, code)
    if reason ~= nil then
      reason = want_data("websocket_close", 3, reason)
    end
    local closing = core.ws_close(id, code, reason)
    if not release(id) then
      release_after_disconnect(id)
    end
    return closing
  end

  ---------------------------------------------------------------------------------------------
  -- Server
  ---------------------------------------------------------------------------------------------

  local server_events = {
    client_connected = true,
    message = true,
    client_disconnected = true,
    error = true,
    "client_connected, message, client_disconnected or error",
  }

  function PY.websocket_server_create()
    return core.ws_server_create()
  end

  function PY.websocket_server_add_event_listener(id, event, fn)
    return add_listener("websocket_server_add_event_listener", server_events, id, event, fn)
  end

  --- Listens on host:port (port 0: a free one). `opts`: `tls = {cert, key}` (PEM files) for
  --- wss://, `max_message_size` (default 16 MiB; larger messages close with 1009),
  --- `max_input` (default 1 MiB of unconsumed messages per client pauses reading it),
  --- `max_connections` (upgraded clients count), `idle_timeout`, `ping_interval` and
  --- `ping_timeout` (seconds; src/ws/keepalive.rs), and the HTTP server's limits. Returns true and the bound port, or false and a message (also
  --- given to the `error` listeners).
  function PY.websocket_server_start(id, host, port, opts)
    id = want_id("websocket_server_start", 1, id, "server id")
    if type(host) ~= "string" then
      bad("websocket_server_start", 2, "string", host)
    end
    port = want_id("websocket_server_start", 3, port, "port number")
    checks.fields("websocket_server_start", 4, opts, { tls = { cert = "string", key = "string" },
      max_message_size = "integer", max_header_size = "number", max_headers = "number",
      max_body_size = "number", max_connections = "number", idle_timeout = "number",
      read_timeout = "number", ping_interval = "number", ping_timeout = "number" })
    local ip, message = require("plua.sockets").lookup(host)
    local bound = false
    if ip then
      bound, message = core.ws_server_start(id, ip, port, opts)
    end
    if not bound then
      local on_error = listeners[id] and listeners[id].error
      if on_error then
        PY.setTimeout(on_error, 0, message)
      end
      return false, message
    end
    return true, bound
  end

  --- Sends `data` to one client (text unless `binary` is true); true, or false and a message.
  function PY.websocket_server_send(id, client, data, binary)
    want_id("websocket_server_send", 1, id, "server id")
    client = want_id("websocket_server_send", 2, client, "client id")
    data = want_data("websocket_server_send", 3, data)
    local ok, message = core.ws_send(client, data, binary == true)
    if not ok then
      return false, message
    end
    return true
  end

  --- Sends `data` to every open client; returns how many it went to.
  function PY.websocket_server_broadcast(id, data, binary)
    id = want_id("websocket_server_broadcast", 1, id, "server id")
    data = want_data("websocket_server_broadcast", 2, data)
    return core.ws_broadcast(id, data, binary == true)
  end

  --- Closes one client's connection (code 1000 unless given).
  function PY.websocket_server_disconnect(id, client, code, reason)
    want_id("websocket_server_disconnect", 1, id, "server id")
    client = want_id("websocket_server_disconnect", 2, client, "client id")
    code = want_code("websocket_server_disconnect", 3, code)
    if reason ~= nil then
      reason = want_data("websocket_server_disconnect", 4, reason)
    end
    return core.ws_close(client, code, reason)
  end

  -- The common calls of both sends (integer ids, a string, at most a boolean) are C functions
  -- (src/api/ws_send.rs) that fall back to the versions above for everything else.
  PY.websocket_send, PY.websocket_server_send =
    core.ws_send_functions(PY.websocket_send, PY.websocket_server_send)

  --- Stops listening and closes every client with 1001; false if there is no such server.
  function PY.websocket_server_close(id)
    id = want_id("websocket_server_close", 1, id, "server id")
    return core.ws_server_close(id)
  end
end

return M
