-- net.mqtt: the public side of the MQTT 3.1.1 client: net.MQTTClient, net.MQTTClientTls,
-- net.QoS and the HC3's mqtt.Client.connect, with the client methods (connect, disconnect,
-- publish, subscribe, unsubscribe, event listeners). The connection itself is
-- net.mqtt_session; arguments are checked by net.mqtt_options. Every listener and callback
-- runs on a later turn of the loop in its own coroutine.
--
--   local client = mqtt.Client.connect("mqtt://127.0.0.1:1883", { clientId = "qa", keepAlivePeriod = 30 })
--   client:addEventListener("connected", function(e) client:subscribe("a/#", { qos = 1 }) end)
--   client:addEventListener("message", function(e) print(e.topic, e.payload) end)
--   client:publish("a/b", "hello", { qos = 2, retain = true })   -- returns the packet id
--   client:disconnect()

local codec = require("net.mqtt_codec")
local options = require("net.mqtt_options")
local session = require("net.mqtt_session")
local checks = require("plua.checks")

local type, pairs, setmetatable = type, pairs, setmetatable
local raise = checks.raise
local emit, later, finish, write = session.emit, session.later, session.finish, session.write
local take_id, completion, refuse = session.take_id, session.completion, session.refuse

local QoS = { AT_MOST_ONCE = 0, AT_LEAST_ONCE = 1, EXACTLY_ONCE = 2 }

--- CONNACK return codes by name (as the original plua's net.MQTTConnectReturnCode).
local ReturnCode = {
  CONNECTION_ACCEPTED = 0,
  UNACCEPTABLE_PROTOCOL_VERSION = 1,
  IDENTIFIER_REJECTED = 2,
  SERVER_UNAVAILABLE = 3,
  BAD_USERNAME_OR_PASSWORD = 4,
  NOT_AUTHORIZED = 5,
}

-- Event names; `disconnected` (the original plua's name) is heard as `closed`.
local EVENTS = {
  connected = "connected", closed = "closed", disconnected = "closed", message = "message",
  subscribed = "subscribed", unsubscribed = "unsubscribed", published = "published", error = "error",
}

local Client = {}
Client.__index = Client

local function new_client(defaults, tls_default)
  return setmetatable({
    state = "idle",
    defaults = defaults,
    tls_default = tls_default,
    listeners = {},
  }, Client)
end

local function want_self(self, method)
  if getmetatable(self) ~= Client then
    raise(("MQTTClient:%s: bad self (call it as client:%s(...))"):format(method, method))
  end
end

local function start(self, name, uri, opts)
  local settings = options.connect(name, uri, opts, self.defaults, self.tls_default)
  if self.state ~= "idle" and self.state ~= "closed" then
    raise(name .. ": the client is already connecting or connected (disconnect it first)")
  end
  session.open(self, settings)
  return self
end

--- Connects to `uri` (see mqtt_options.connect for the options). Returns the client.
function Client:connect(uri, opts)
  want_self(self, "connect")
  return start(self, "MQTTClient:connect", uri, opts)
end

--- Sends DISCONNECT and closes (a connect under way is abandoned). `options.callback(0)`
--- once done; -1 when the client was not connected. Returns true if there was a connection.
function Client:disconnect(opts)
  want_self(self, "disconnect")
  opts = options.table("MQTTClient:disconnect", 1, opts)
  local callback = options.callback("MQTTClient:disconnect", 1, opts)
  if self.state == "idle" or self.state == "closed" then
    later(callback, -1)
    return false
  end
  if self.state == "connected" then
    write(self, session.DISCONNECT)
  end
  finish(self, "disconnected")
  later(callback, 0)
  return true
end

---------------------------------------------------------------------------------------------
-- Operations
---------------------------------------------------------------------------------------------

--- Publishes; returns the packet id (0 for QoS 0), or nil when not connected.
function Client:publish(topic, payload, opts)
  want_self(self, "publish")
  local name = "MQTTClient:publish"
  local qos, retain, callback
  topic, payload, qos, retain, callback = options.publish(name, topic, payload, opts)
  if #topic > 65535 then
    raise(("%s: bad argument #1 (topic is %d bytes long, at most 65535)"):format(name, #topic))
  end
  if self.state ~= "connected" then
    refuse(self, callback, "publish", "not connected")
    return nil
  end
  local id = 0
  if qos > 0 then
    id = take_id(self)
    if not id then
      refuse(self, callback, "publish", "65535 packets already in flight")
      return nil
    end
    self.outgoing[id] = { waiting = qos == 1 and "puback" or "pubrec" }
  end
  local bytes = codec.encode({
    type = "publish", topic = topic, payload = payload, qos = qos, retain = retain,
    packetId = qos > 0 and id or nil,
  })
  if qos == 0 then
    write(self, bytes, function(ok)
      if callback then
        callback(ok and 0 or -1)
      end
      if ok and self.listeners.published then
        emit(self, "published", { packetId = 0 })
      end
    end)
  else
    write(self, bytes, completion(callback))
  end
  return id
end

local function request(self, name, kind, packet, topics, callback)
  if self.state ~= "connected" then
    refuse(self, callback, kind, "not connected")
    return nil
  end
  local id = take_id(self)
  if not id then
    refuse(self, callback, kind, "65535 packets already in flight")
    return nil
  end
  packet.packetId = id
  local bytes, message = codec.encode(packet)
  if not bytes then
    self.in_use[id] = nil
    raise(("%s: bad argument #1 (%s)"):format(name, message))
  end
  self.pending[id] = { kind = kind, topics = topics }
  write(self, bytes, completion(callback))
  return id
end

--- Subscribes to a topic or a list (see mqtt_options.subscriptions); returns the packet id.
function Client:subscribe(topics, opts)
  want_self(self, "subscribe")
  local name = "MQTTClient:subscribe"
  opts = options.table(name, 2, opts)
  local list = options.subscriptions(name, topics, opts)
  local callback = options.callback(name, 2, opts)
  local names = {}
  for i, t in ipairs(list) do
    names[i] = t.topic
  end
  return request(self, name, "subscribe", { type = "subscribe", topics = list }, names, callback)
end

--- Unsubscribes from a topic or a list of topics; returns the packet id.
function Client:unsubscribe(topics, opts)
  want_self(self, "unsubscribe")
  local name = "MQTTClient:unsubscribe"
  opts = options.table(name, 2, opts)
  local list = options.unsubscriptions(name, topics)
  local callback = options.callback(name, 2, opts)
  return request(self, name, "unsubscribe", { type = "unsubscribe", topics = list }, list, callback)
end

--- Adds `fn` for `event` (connected, closed, message, subscribed, unsubscribed, published,
--- error); several listeners run in the order added, the same function is added once.
function Client:addEventListener(event, fn)
  want_self(self, "addEventListener")
  local name = "MQTTClient:addEventListener"
  event = checks.string(name, 1, event)
  local key = EVENTS[event]
  if not key then
    raise(("%s: bad argument #1 (unknown event '%s'; expected connected, closed, message, subscribed, unsubscribed, published or error)"):format(name, event))
  end
  if type(fn) ~= "function" then
    checks.bad(name, 2, "function", fn)
  end
  local list = self.listeners[key]
  if not list then
    list = {}
    self.listeners[key] = list
  end
  for i = 1, #list do
    if list[i] == fn then
      return
    end
  end
  list[#list + 1] = fn
end

--- Removes `fn` from `event`, or every listener of `event` when `fn` is nil.
function Client:removeEventListener(event, fn)
  want_self(self, "removeEventListener")
  local key = EVENTS[checks.string("MQTTClient:removeEventListener", 1, event)]
  local list = key and self.listeners[key]
  if not list then
    return
  end
  if fn == nil then
    self.listeners[key] = nil
    return
  end
  for i = #list, 1, -1 do
    if list[i] == fn then
      table.remove(list, i)
    end
  end
end

--- True between CONNACK and the end of the connection.
function Client:isConnected()
  return self.state == "connected"
end

--- {connected, state, clientId, host, port, tls, keepAlive, subscriptions = {topic = qos}}.
function Client:getInfo()
  local s = self.settings or {}
  local subs = {}
  for topic, qos in pairs(self.subscriptions or {}) do
    subs[topic] = qos
  end
  return {
    connected = self.state == "connected", state = self.state, clientId = s.clientId,
    host = s.host, port = s.port, tls = s.tls, keepAlive = s.keepAlive, subscriptions = subs,
  }
end

function Client:__tostring()
  local s = self.settings
  if s then
    return ("MQTTClient %s@%s:%d (%s)"):format(s.clientId, s.host, s.port, self.state)
  end
  return "MQTTClient (idle)"
end

---------------------------------------------------------------------------------------------
-- Registration
---------------------------------------------------------------------------------------------

local function connect(uri, opts)
  return start(new_client(nil, false), "mqtt.Client.connect", uri, opts)
end

local mqtt_client = { connect = connect }

--- Adds the MQTT names to `t` (the `net` table, or the `mqtt` module's table).
return function(t)
  --- An unconnected client; `defaults` are connect options (`client:connect(uri, options)`).
  function t.MQTTClient(defaults)
    if defaults ~= nil and type(defaults) ~= "table" then
      checks.bad("net.MQTTClient", 1, "table", defaults)
    end
    return new_client(defaults, false)
  end
  --- The same, connecting with TLS when the URI has no scheme.
  function t.MQTTClientTls(defaults)
    if defaults ~= nil and type(defaults) ~= "table" then
      checks.bad("net.MQTTClientTls", 1, "table", defaults)
    end
    return new_client(defaults, true)
  end
  t.QoS = QoS
  t.MQTTConnectReturnCode = ReturnCode
  t.Client = mqtt_client
  return t
end
