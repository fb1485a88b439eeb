-- plua.sockets: the `_PY` TCP, TCP-server and UDP families, built on the reactor primitives in
-- `core` (src/api/net.rs). Here live the argument checks (errors name the function and argument
-- and point at the caller's line), callback bookkeeping and the waiting ("sync") forms.
--
-- Conventions (SPEC section 4): async forms take a final callback `cb(ok, value|nil, message)`;
-- close-style results are `(ok, message)`; sync forms return the same values instead, suspending
-- only the calling coroutine. Unknown ids and closed sockets are reported through the callback
-- or the returned values, never raised. Timeouts are in seconds.

local M = {}

local type, error, tostring = type, error, tostring

function M.install(core, PY, shared)
  local callbacks, listeners, await = shared.callbacks, shared.listeners, shared.await

  local checks = require("plua.checks")
  local bad, want_id, want_string, want_port = checks.bad, checks.id, checks.string, checks.port
  local want_callback, want_number, want_table = checks.callback, checks.number, checks.table
  local raise = checks.raise
  local want_fields = checks.fields

  -- Option tables: the fields each family reads (see README).
  local CONNECT_OPTIONS = { timeout = "number", tls = "boolean", verify = "boolean",
    servername = "string", cafile = "string", max_input = "number", max_line = "number",
    max_read = "number" }
  local SERVER_OPTIONS = { tls = { cert = "string", key = "string" }, max_input = "number",
    max_line = "number", max_read = "number", max_connections = "number" }
  local UDP_OPTIONS = { broadcast = "boolean", timeout = "number" }

  -- Connections whose timeout the script set (nil then means "no limit", not the default).
  local explicit_timeout = {}

  local function on_done(op, cb)
    if cb then
      callbacks[op] = cb
    end
    return op
  end

  -- Calls cb(...) on the next turn of the loop (results that need no I/O).
  local function later(cb, ...)
    if cb then
      setTimeout(cb, 0, ...)
    end
  end

  -- A byte count: a whole number (negative reads nothing), or nil when `optional`.
  local function want_count(name, index, value, optional)
    if value == nil and optional then
      return nil
    end
    local n = math.tointeger(value)
    if n == nil then
      bad(name, index, "byte count", value)
    end
    return n
  end

  -- A read pattern (LuaSocket `*a`, `*l`, n) or byte count as (kind, n).
  local function read_kind(name, index, pattern, default_kind)
    if pattern == nil then
      return default_kind, nil
    end
    if type(pattern) == "number" then
      return default_kind, want_count(name, index, pattern)
    end
    if pattern == "*a" or pattern == "a" then
      return "all", nil
    end
    if pattern == "*l" or pattern == "l" then
      return "line", nil
    end
    raise(("%s: bad argument #%d (read pattern '*a', '*l' or a number expected, got %s)"):format(
      name, index, type(pattern) == "string" and ("'" .. pattern .. "'") or type(pattern)))
  end

  -- The IP to bind a server or UDP socket to, or to connect a UDP socket to, for `host`: a literal address (or `localhost`)
  -- at once; a name is looked up on the worker pool while only the calling coroutine waits
  -- (timers and other callbacks go on). nil and a message if the lookup fails.
  local function lookup(host)
    local ip, op = core.resolve(host)
    if ip then
      return ip
    end
    local ok, resolved, message = await(op, 30)
    if ok then
      return resolved
    end
    return nil, message or resolved
  end
  M.lookup = lookup

  -- The local IP to bind a socket to that first sends to `host`: the source address of the
  -- route there (loopback for a loopback peer, the interface's address for another host),
  -- so it receives the replies without listening on every interface. 127.0.0.1 if unknown.
  function M.source(host)
    local ip = lookup(host)
    return ip and core.udp_source(ip) or "127.0.0.1"
  end

  ---------------------------------------------------------------------------------------------
  -- TCP client
  ---------------------------------------------------------------------------------------------

  -- Connect failures read as the original's: "TCP connect error: <reason>".
  local function connect_result(ok, id, message)
    if not ok then
      return false, nil, "TCP connect error: " .. tostring(message)
    end
    return ok, id, message
  end

  function PY.tcp_connect(host, port, cb, opts)
    host = want_string("tcp_connect", 1, host)
    port = want_port("tcp_connect", 2, port)
    want_callback("tcp_connect", 3, cb)
    want_fields("tcp_connect", 4, opts, CONNECT_OPTIONS)
    return on_done(core.tcp_connect(host, port, opts), cb and function(...)
      return cb(connect_result(...))
    end)
  end

  function PY.tcp_write(id, data, cb)
    id = want_id("tcp_write", 1, id)
    data = want_string("tcp_write", 2, data)
    want_callback("tcp_write", 3, cb)
    return on_done(core.tcp_write(id, data, cb == nil), cb)
  end
  -- The common call (an id and a string, no callback) is a C function (src/api/tcp_write.rs)
  -- that falls back to the version above for everything else.
  PY.tcp_write = core.tcp_write_function(PY.tcp_write)

  function PY.tcp_read(id, max, cb)
    id = want_id("tcp_read", 1, id)
    if type(max) == "function" and cb == nil then
      max, cb = nil, max
    end
    local kind, n = read_kind("tcp_read", 2, max, "max")
    want_callback("tcp_read", 3, cb)
    return on_done(core.tcp_read(id, kind, n), cb)
  end

  function PY.tcp_read_until(id, delimiter, max, cb)
    id = want_id("tcp_read_until", 1, id)
    delimiter = want_string("tcp_read_until", 2, delimiter)
    if type(max) == "function" and cb == nil then
      max, cb = nil, max
    end
    max = want_count("tcp_read_until", 3, max, true)
    want_callback("tcp_read_until", 4, cb)
    return on_done(core.tcp_read(id, "until", max or 8192, delimiter), cb)
  end

  -- A connection the peer already closed counts as closed by this call, as in the original.
  local function close_result(id, ok, message)
    explicit_timeout[id] = nil
    if not ok and message == "closed" then
      return true, ("Connection %d closed"):format(id)
    end
    return ok, message
  end

  function PY.tcp_close(id, cb)
    id = want_id("tcp_close", 1, id)
    want_callback("tcp_close", 2, cb)
    return on_done(core.tcp_close(id), function(...)
      local ok, message = close_result(id, ...)
      if cb then
        return cb(ok, message)
      end
    end)
  end

  local function describe_timeout(id, seconds)
    if seconds == nil then
      return ("Socket set to blocking mode for connection %d"):format(id)
    elseif seconds == 0 then
      return ("Socket set to non-blocking mode for connection %d"):format(id)
    end
    return ("Timeout set to %s seconds for connection %d"):format(tostring(seconds), id)
  end

  local function set_timeout(name, id, seconds)
    id = want_id(name, 1, id)
    want_number(name, 2, seconds, true)
    if seconds ~= nil and seconds < 0 then
      seconds = nil
    end
    if core.set_timeout(id, seconds) then
      explicit_timeout[id] = true
      return true, describe_timeout(id, seconds)
    end
    return false, ("unknown connection id %d"):format(id)
  end

  local function get_timeout(name, id)
    id = want_id(name, 1, id)
    local known, seconds = core.get_timeout(id)
    if not known then
      return false, nil, ("unknown connection id %d"):format(id)
    end
    if seconds == nil then
      return true, nil, ("Socket is in blocking mode for connection %d"):format(id)
    end
    return true, seconds, ("Current timeout: %s seconds for connection %d"):format(tostring(seconds), id)
  end

  function PY.tcp_set_timeout(id, seconds, cb)
    want_callback("tcp_set_timeout", 3, cb)
    local ok, message = set_timeout("tcp_set_timeout", id, seconds)
    later(cb, ok, message)
    return ok, message
  end

  function PY.tcp_get_timeout(id, cb)
    want_callback("tcp_get_timeout", 2, cb)
    local ok, seconds, message = get_timeout("tcp_get_timeout", id)
    later(cb, ok, seconds, message)
    return ok, seconds, message
  end

  -- The time a waiting read may block where it cannot yield.
  local function read_limit(id)
    local _, seconds = core.get_timeout(id)
    return seconds
  end

  -- How long a waiting read may wait: the connection's timeout, or the original's 1 s when
  -- the script set none.
  local SYNC_READ_DEFAULT = 1
  local function sync_read_limit(id)
    local _, seconds = core.get_timeout(id)
    if seconds == nil and not explicit_timeout[id] then
      return SYNC_READ_DEFAULT
    end
    return seconds
  end

  -- A timed-out waiting read gives the original's `true, ""` (bytes that arrived stay
  -- buffered for the next read).
  local function sync_read_result(ok, data, message)
    if not ok and message == "timeout" then
      return true, "", "timeout"
    end
    return ok, data, message
  end

  function PY.tcp_connect_sync(host, port, opts)
    host = want_string("tcp_connect_sync", 1, host)
    port = want_port("tcp_connect_sync", 2, port)
    want_fields("tcp_connect_sync", 3, opts, CONNECT_OPTIONS)
    return connect_result(await(core.tcp_connect(host, port, opts), opts and opts.timeout or 30))
  end

  function PY.tcp_write_sync(id, data)
    id = want_id("tcp_write_sync", 1, id)
    data = want_string("tcp_write_sync", 2, data)
    return await(core.tcp_write(id, data), read_limit(id))
  end

  -- A count reads what has arrived, up to n (the original's meaning; the LuaSocket `socket`
  -- module keeps "exactly n"). A bad pattern is reported, not raised, as in the original.
  function PY.tcp_read_sync(id, pattern)
    id = want_id("tcp_read_sync", 1, id)
    local ok, kind, n = pcall(read_kind, "tcp_read_sync", 2, pattern, "max")
    if not ok then
      return false, nil, ("Invalid pattern: %s. Use '*a', '*l', or a number"):format(tostring(pattern))
    end
    local limit = sync_read_limit(id)
    return sync_read_result(await(core.tcp_read(id, kind, n, nil, limit), limit))
  end

  function PY.tcp_read_until_sync(id, delimiter, max)
    id = want_id("tcp_read_until_sync", 1, id)
    delimiter = want_string("tcp_read_until_sync", 2, delimiter)
    max = want_count("tcp_read_until_sync", 3, max, true)
    local limit = sync_read_limit(id)
    return sync_read_result(await(core.tcp_read(id, "until", max or 8192, delimiter, limit), limit))
  end

  function PY.tcp_close_sync(id)
    id = want_id("tcp_close_sync", 1, id)
    return close_result(id, await(core.tcp_close(id), 5))
  end

  function PY.tcp_set_timeout_sync(id, seconds)
    return set_timeout("tcp_set_timeout_sync", id, seconds)
  end

  function PY.tcp_get_timeout_sync(id)
    return get_timeout("tcp_get_timeout_sync", id)
  end

  ---------------------------------------------------------------------------------------------
  -- TCP servers (events)
  ---------------------------------------------------------------------------------------------

  local server_events = {
    client_connected = true,
    data_received = true,
    client_disconnected = true,
    error = true,
  }

  function PY.tcp_server_create()
    return core.server_create(false)
  end

  function PY.tcp_server_add_event_listener(id, event, fn)
    id = want_id("tcp_server_add_event_listener", 1, id)
    if type(event) ~= "string" then
      bad("tcp_server_add_event_listener", 2, "event name", event)
    end
    if not server_events[event] then
      raise(("tcp_server_add_event_listener: bad argument #2 (event name client_connected, data_received, client_disconnected or error expected, got '%s')"):format(event))
    end
    if type(fn) ~= "function" then
      bad("tcp_server_add_event_listener", 3, "function", fn)
    end
    local of_server = listeners[id]
    if not of_server then
      of_server = {}
      listeners[id] = of_server
    end
    of_server[event] = fn
    if event == "data_received" then
      core.server_emit_data(id)
    end
    return true
  end

  -- opts: { tls = { cert = "server.pem", key = "server.key" } } for a TLS server.
  function PY.tcp_server_start(id, host, port, opts)
    id = want_id("tcp_server_start", 1, id)
    host = want_string("tcp_server_start", 2, host or "127.0.0.1")
    port = want_port("tcp_server_start", 3, port)
    want_fields("tcp_server_start", 4, opts, SERVER_OPTIONS)
    local tls = opts and opts.tls
    local ip, message = lookup(host)
    local ok, bound = false, nil
    if ip then
      ok, message, bound = core.server_start(id, ip, port, tls and tls.cert, tls and tls.key, opts)
    end
    if not ok then
      local of_server = listeners[id]
      later(of_server and of_server.error, message)
      return false, message
    end
    return true, message, bound
  end

  function PY.tcp_server_close(id)
    id = want_id("tcp_server_close", 1, id)
    return core.server_close(id)
  end

  ---------------------------------------------------------------------------------------------
  -- TCP servers, blocking style (table results)
  ---------------------------------------------------------------------------------------------

  function PY.tcp_server_create_sync(host, port)
    host = want_string("tcp_server_create_sync", 1, host or "127.0.0.1")
    port = want_port("tcp_server_create_sync", 2, port)
    local ip, failure = lookup(host)
    if not ip then
      return nil, failure
    end
    local id = core.server_create(true)
    local ok, message = core.server_start(id, ip, port)
    if not ok then
      core.server_close(id)
      return nil, message
    end
    return id, message
  end

  function PY.tcp_server_accept_sync(id, timeout)
    id = want_id("tcp_server_accept_sync", 1, id)
    want_number("tcp_server_accept_sync", 2, timeout, true)
    local limit = timeout or 10
    local result = await(core.server_accept(id, limit), limit)
    if type(result) ~= "table" then
      return { success = false, client_id = nil, message = "Accept timeout" }
    end
    return result
  end

  function PY.tcp_connect_to_sync_server(host, port)
    host = want_string("tcp_connect_to_sync_server", 1, host)
    port = want_port("tcp_connect_to_sync_server", 2, port)
    local ok, id, message = await(core.tcp_connect(host, port, { timeout = 10 }), 10)
    if ok then
      return { success = true, client_id = id, message = "Connected to sync server" }
    end
    return { success = false, client_id = nil, message = message }
  end

  function PY.tcp_write_sync_client(id, data)
    id = want_id("tcp_write_sync_client", 1, id)
    data = want_string("tcp_write_sync_client", 2, data)
    local ok, sent, message = await(core.tcp_write(id, data), read_limit(id))
    if ok then
      return { success = true, bytes_written = sent, message = "Success" }
    end
    return { success = false, bytes_written = 0, message = message }
  end

  function PY.tcp_read_sync_client(id, max, timeout)
    id = want_id("tcp_read_sync_client", 1, id)
    max = want_count("tcp_read_sync_client", 2, max, true)
    want_number("tcp_read_sync_client", 3, timeout, true)
    local ok, data, message = await(core.tcp_read(id, "max", max or 1024, nil, timeout), timeout or read_limit(id))
    if ok then
      return { success = true, data = data, message = "Success" }
    end
    return { success = false, data = nil, message = message }
  end

  function PY.tcp_close_sync_client(id)
    id = want_id("tcp_close_sync_client", 1, id)
    return (await(core.tcp_close(id), 5))
  end

  function PY.tcp_server_close_sync(id)
    id = want_id("tcp_server_close_sync", 1, id)
    return core.server_close(id)
  end

  ---------------------------------------------------------------------------------------------
  -- UDP
  ---------------------------------------------------------------------------------------------

  -- opts: { broadcast = bool, timeout = seconds (receive timeout) }
  function PY.udp_connect(host, port, cb, opts)
    host = want_string("udp_connect", 1, host)
    port = want_port("udp_connect", 2, port)
    want_callback("udp_connect", 3, cb)
    want_fields("udp_connect", 4, opts, UDP_OPTIONS)
    local id, message = lookup(host)
    if id then
      id, message = core.udp_open(nil, nil, id, port, opts and opts.broadcast or false, opts and opts.timeout)
    end
    if not id then
      later(cb, false, nil, message)
      return nil, message
    end
    later(cb, true, id, ("UDP connected (conn_id=%d)"):format(id))
    return id
  end

  -- Receives datagrams from anyone on host:port (port 0 picks a free one).
  -- Without a host it binds loopback only; "0.0.0.0" (or "::") receives on every interface.
  function PY.udp_bind(host, port, cb, opts)
    host = want_string("udp_bind", 1, host or "127.0.0.1")
    port = want_port("udp_bind", 2, port or 0)
    want_callback("udp_bind", 3, cb)
    want_fields("udp_bind", 4, opts, UDP_OPTIONS)
    local id, ip, bound = lookup(host)
    if id then
      id, ip, bound = core.udp_open(id, port, nil, nil, opts and opts.broadcast or false, opts and opts.timeout)
    end
    if not id then
      later(cb, false, nil, ip)
      return nil, ip
    end
    later(cb, true, id, ("UDP socket bound to %s:%d"):format(ip, bound), bound)
    return id, bound
  end

  function PY.udp_write(id, data, host, port, cb)
    id = want_id("udp_write", 1, id)
    data = want_string("udp_write", 2, data)
    if type(host) == "function" and cb == nil then
      host, cb = nil, host
    end
    if host ~= nil then
      host = want_string("udp_write", 3, host)
      port = want_port("udp_write", 4, port)
    end
    want_callback("udp_write", 5, cb)
    local op, message = core.udp_send(id, data, host, port)
    if not op then
      later(cb, false, nil, message)
      return nil
    end
    return on_done(op, cb)
  end

  function PY.udp_read(id, max, cb)
    id = want_id("udp_read", 1, id)
    if type(max) == "function" and cb == nil then
      max, cb = nil, max
    end
    max = want_count("udp_read", 2, max, true)
    want_callback("udp_read", 3, cb)
    return on_done(core.udp_receive(id, max), cb)
  end

  function PY.udp_close(id, cb)
    id = want_id("udp_close", 1, id)
    want_callback("udp_close", 2, cb)
    local ok = core.udp_close(id)
    local message = ok and ("Connection %d closed"):format(id) or ("unknown UDP socket id %d"):format(id)
    later(cb, ok, message)
    return ok, message
  end

  -- Not part of the original API, but needed to talk to a bound socket: its local port.
  PY.udp_receive_sync = function(id, max)
    id = want_id("udp_receive_sync", 1, id)
    max = want_count("udp_receive_sync", 2, max, true)
    local _, seconds = core.get_timeout(id)
    return await(core.udp_receive(id, max), seconds)
  end

end

return M
