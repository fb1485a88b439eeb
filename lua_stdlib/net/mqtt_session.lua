-- net.mqtt_session: one MQTT 3.1.1 connection of a net.mqtt client, as a state machine on
-- plua's TCP layer: connect (TCP or TLS), CONNECT/CONNACK, reads decoded incrementally by
-- net.mqtt_codec, the QoS 1 and 2 handshakes in both directions, keep-alive PINGREQs on a
-- reactor interval, and the end of the session (error and closed events, everything
-- released). Nothing the broker sends can raise in the script: malformed input or a protocol
-- violation becomes an `error` event and the connection is closed.
--
-- States: idle -> connecting (TCP/TLS) -> handshake (CONNECT sent) -> connected -> closed.

local codec = require("net.mqtt_codec")

local PY = _PY
local tostring = tostring

local M = {}

---------------------------------------------------------------------------------------------
-- Events and the end of a connection
---------------------------------------------------------------------------------------------

-- Queues every listener of `event` with `payload`, each in its own coroutine (timer tasks run
-- in the order queued, so events keep the order of the packets behind them).
local function emit(self, event, payload)
  local list = self.listeners[event]
  if list then
    for i = 1, #list do
      setTimeout(list[i], 0, payload)
    end
  end
end

local function later(fn, ...)
  if fn then
    setTimeout(fn, 0, ...)
  end
end

-- Ends the session: timers stopped, socket closed, temporary files removed; `failure` (a
-- message) is reported as an `error` event with `code` before `closed`. Listeners are
-- released afterwards, so a closed client holds nothing.
local function finish(self, reason, failure, code)
  if self.state == "closed" or self.state == "idle" then
    return
  end
  self.state = "closed"
  if self.ping_timer then
    clearInterval(self.ping_timer)
    self.ping_timer = nil
  end
  if self.connack_timer then
    clearTimeout(self.connack_timer)
    self.connack_timer = nil
  end
  local conn = self.conn
  self.conn = nil
  if conn then
    PY.tcp_close(conn)
  end
  if self.ca_temp then
    os.remove(self.ca_temp)
    self.ca_temp = nil
  end
  if failure then
    emit(self, "error", { code = code or -1, message = failure })
  end
  if self.connect_callback then
    later(self.connect_callback, code or -1)
    self.connect_callback = nil
  end
  emit(self, "closed", { reason = reason or failure })
  self.listeners = {}
  self.decoder, self.in_use, self.outgoing, self.incoming, self.pending = nil, nil, nil, nil, nil
end

local function protocol_error(self, message)
  finish(self, nil, message, -1)
end

---------------------------------------------------------------------------------------------
-- Sending
---------------------------------------------------------------------------------------------

-- Writes an encoded packet; `cb(ok, bytes, message)` when the bytes have left (optional).
local function write(self, bytes, cb)
  self.sent = true
  if cb then
    PY.tcp_write(self.conn, bytes, cb)
  else
    PY.tcp_write(self.conn, bytes)
  end
end

local function send(self, packet)
  local bytes, message = codec.encode(packet)
  if not bytes then
    return protocol_error(self, "cannot encode " .. packet.type:upper() .. ": " .. message)
  end
  write(self, bytes)
end

-- A free packet id (1-65535, cycling), or nil when all 65535 are in flight.
local function take_id(self)
  local in_use, id = self.in_use, self.last_id
  for _ = 1, 65535 do
    id = id % 65535 + 1
    if not in_use[id] then
      in_use[id] = true
      self.last_id = id
      return id
    end
  end
  return nil
end

-- The outcome of a write for an operation's `callback(errorCode)`: 0 once sent, -1 if not.
local function completion(callback)
  if callback then
    return function(ok)
      callback(ok and 0 or -1)
    end
  end
end

-- An operation that cannot start (not connected, no free packet id): `callback(-1)` and an
-- `error` event, as a write failure would give; the caller returns nil.
local function refuse(self, callback, what, message)
  later(callback, -1)
  emit(self, "error", { code = -1, message = ("%s: %s"):format(what, message) })
end

---------------------------------------------------------------------------------------------
-- Keep-alive: an interval at half the period sends PINGREQ when nothing else went out since
-- the last tick, so the broker never sees more than one period of silence; a PINGREQ left
-- unanswered for a whole period ends the connection.
---------------------------------------------------------------------------------------------

local PINGREQ = codec.encode({ type = "pingreq" })
local DISCONNECT = codec.encode({ type = "disconnect" })

local function start_keepalive(self)
  local period = self.settings.keepAlive
  if period <= 0 then
    return
  end
  self.sent = false
  self.ping_timer = setInterval(function()
    if self.state ~= "connected" then
      return
    end
    if self.ping_ticks then
      self.ping_ticks = self.ping_ticks + 1
      if self.ping_ticks >= 2 then
        return protocol_error(self, ("keep-alive timeout: no PINGRESP from the broker within %d s"):format(period))
      end
    end
    if not self.sent and not self.ping_ticks then
      write(self, PINGREQ)
      self.ping_ticks = 0
    end
    self.sent = false
  end, period * 500)
end

---------------------------------------------------------------------------------------------
-- Receiving
---------------------------------------------------------------------------------------------

local handlers = {}

function handlers.connack(self, p)
  if self.state ~= "handshake" then
    return protocol_error(self, "protocol error: a second CONNACK from the broker")
  end
  clearTimeout(self.connack_timer)
  self.connack_timer = nil
  local rc = p.returnCode
  if rc ~= 0 then
    local text = codec.CONNACK_TEXT[rc] or "unknown reason"
    return finish(self, nil, ("connection refused by the broker: %s (return code %d)"):format(text, rc), rc)
  end
  self.state = "connected"
  start_keepalive(self)
  later(self.connect_callback, 0)
  self.connect_callback = nil
  emit(self, "connected", { sessionPresent = p.sessionPresent, returnCode = 0 })
end

local function deliver(self, p)
  emit(self, "message", {
    topic = p.topic, payload = p.payload, qos = p.qos, retain = p.retain, dup = p.dup,
    packetId = p.packetId,
  })
end

-- Incoming QoS 2 is delivered on PUBLISH and the id remembered until PUBREL, so a resent
-- PUBLISH (DUP) is acknowledged again but not delivered twice.
function handlers.publish(self, p)
  if p.qos == 0 then
    deliver(self, p)
  elseif p.qos == 1 then
    deliver(self, p)
    send(self, { type = "puback", packetId = p.packetId })
  else
    if not self.incoming[p.packetId] then
      self.incoming[p.packetId] = true
      deliver(self, p)
    end
    send(self, { type = "pubrec", packetId = p.packetId })
  end
end

function handlers.pubrel(self, p)
  self.incoming[p.packetId] = nil
  send(self, { type = "pubcomp", packetId = p.packetId })
end

local function published(self, id)
  self.outgoing[id] = nil
  self.in_use[id] = nil
  emit(self, "published", { packetId = id })
end

function handlers.puback(self, p)
  local out = self.outgoing[p.packetId]
  if out and out.waiting == "puback" then
    published(self, p.packetId)
  end
end

function handlers.pubrec(self, p)
  local out = self.outgoing[p.packetId]
  if out and out.waiting == "pubrec" then
    out.waiting = "pubcomp"
  end
  -- PUBREL also for an id we no longer know, so the broker can release it (MQTT 4.3.3).
  send(self, { type = "pubrel", packetId = p.packetId })
end

function handlers.pubcomp(self, p)
  local out = self.outgoing[p.packetId]
  if out and out.waiting == "pubcomp" then
    published(self, p.packetId)
  end
end

function handlers.suback(self, p)
  local pending = self.pending[p.packetId]
  if pending and pending.kind == "subscribe" then
    self.pending[p.packetId], self.in_use[p.packetId] = nil, nil
    for i, code in ipairs(p.results) do
      local topic = pending.topics[i]
      if topic and code ~= 0x80 then
        self.subscriptions[topic] = code
      end
    end
    emit(self, "subscribed", { packetId = p.packetId, results = p.results })
  end
end

function handlers.unsuback(self, p)
  local pending = self.pending[p.packetId]
  if pending and pending.kind == "unsubscribe" then
    self.pending[p.packetId], self.in_use[p.packetId] = nil, nil
    for _, topic in ipairs(pending.topics) do
      self.subscriptions[topic] = nil
    end
    emit(self, "unsubscribed", { packetId = p.packetId })
  end
end

function handlers.pingresp(self)
  self.ping_ticks = nil
end

local function handle(self, p)
  if self.state == "handshake" and p.type ~= "connack" then
    return protocol_error(self, ("protocol error: %s from the broker before CONNACK"):format(p.type:upper()))
  end
  local handler = handlers[p.type]
  if not handler then
    return protocol_error(self, ("protocol error: the broker sent %s, which only clients send"):format(p.type:upper()))
  end
  handler(self, p)
end

local function lost(self, message)
  if message == "closed" then
    if self.state == "handshake" then
      return finish(self, nil, "connection closed by the broker before CONNACK", -1)
    end
    return finish(self, "connection closed by the broker")
  end
  finish(self, nil, "connection lost: " .. tostring(message), -1)
end

-- One read at a time; each completion decodes what arrived, handles every whole packet and
-- asks for more. A completion for a connection that has since ended is ignored.
local function read_loop(self, conn)
  PY.tcp_read(conn, 65536, function(ok, data, message)
    if self.conn ~= conn then
      return
    end
    if not ok then
      return lost(self, message)
    end
    local decoder = self.decoder
    decoder:feed(data)
    while true do
      local packet, failure = decoder:next()
      if packet == nil then
        break
      elseif packet == false then
        return protocol_error(self, failure)
      end
      handle(self, packet)
      if self.conn ~= conn then
        return
      end
    end
    read_loop(self, conn)
  end)
end

---------------------------------------------------------------------------------------------
-- Connecting
---------------------------------------------------------------------------------------------

local function tcp_options(self, s)
  local opts = { timeout = s.timeout / 1000 }
  if s.tls then
    local t = s.tls_opts
    opts.tls, opts.verify, opts.servername, opts.cafile = true, t.verify, t.servername, t.cafile
    if t.ca_pem and not t.cafile then
      -- The HC3 gives the CA as PEM text; the TLS layer reads a file.
      local path = os.tmpname()
      local f = io.open(path, "wb")
      if f then
        f:write(t.ca_pem)
        f:close()
        self.ca_temp, opts.cafile = path, path
      end
    end
  end
  return opts
end

local function on_connected(self, conn)
  self.conn = conn
  self.state = "handshake"
  PY.tcp_set_timeout(conn, nil) -- the connect limit must not become a read timeout
  local s = self.settings
  local bytes, message = codec.encode({
    type = "connect", clientId = s.clientId, keepAlive = s.keepAlive, cleanSession = s.cleanSession,
    username = s.username, password = s.password, will = s.will,
  })
  if not bytes then
    return finish(self, nil, "cannot encode CONNECT: " .. message, -1)
  end
  write(self, bytes)
  self.connack_timer = setTimeout(function()
    self.connack_timer = nil
    finish(self, nil, ("timeout: no CONNACK from the broker within %g s"):format(s.timeout / 1000), -1)
  end, s.timeout)
  read_loop(self, conn)
end

--- Starts a session with checked `s` (mqtt_options.connect): TCP/TLS connect, CONNECT, then
--- the read loop; the outcome arrives as events.
function M.open(self, s)
  self.settings, self.state, self.connect_callback = s, "connecting", s.callback
  self.decoder = codec.decoder(s.maxPacketSize)
  self.in_use, self.outgoing, self.incoming, self.pending = {}, {}, {}, {}
  self.subscriptions, self.last_id, self.ping_ticks = {}, 0, nil
  local attempt = {}
  self.attempt = attempt
  PY.tcp_connect(s.host, s.port, function(ok, conn, message)
    if self.attempt ~= attempt or self.state ~= "connecting" then
      if ok then
        PY.tcp_close(conn) -- disconnected (or reconnected) while the connect was under way
      end
      return
    end
    if not ok then
      return finish(self, nil, ("cannot connect to %s:%d: %s"):format(s.host, s.port, tostring(message)), -1)
    end
    on_connected(self, conn)
  end, tcp_options(self, s))
end

M.emit, M.later, M.finish, M.write, M.take_id = emit, later, finish, write, take_id
M.completion, M.refuse, M.DISCONNECT = completion, refuse, DISCONNECT

return M
