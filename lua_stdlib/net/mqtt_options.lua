-- net.mqtt_options: the argument side of the MQTT client. Parses the broker URI and checks the
-- HC3-style connect, subscribe, unsubscribe and publish arguments, turning them into plain
-- values for net.mqtt (the state machine). Wrong types and values raise "<function>: bad
-- argument #n (...)" at the script's line through plua.checks.

local checks = require("plua.checks")
local raise, bad = checks.raise, checks.bad

local type, tostring, tonumber, math_type = type, tostring, tonumber, math.type

local M = {}

--- Default limit on the size of one packet from the broker (remaining length, bytes).
M.MAX_PACKET = 16 * 1024 * 1024
--- Default limit for the TCP (and TLS) connect plus the wait for CONNACK, in milliseconds.
M.CONNECT_TIMEOUT = 30000

local function field_error(name, index, field, expected, value)
  raise(("%s: bad argument #%d (%s: %s expected, got %s)"):format(name, index, field, expected, type(value)))
end

local function opt_string(name, index, t, field)
  local v = t[field]
  if v == nil or type(v) == "string" then
    return v
  end
  if type(v) == "number" then
    return tostring(v)
  end
  field_error(name, index, field, "string", v)
end

local function opt_number(name, index, t, field, min, max)
  local v = t[field]
  if v == nil then
    return nil
  end
  if type(v) == "string" and tonumber(v) then
    v = tonumber(v) -- HC3 scripts often pass `port = "1883"`
  end
  if type(v) ~= "number" then
    field_error(name, index, field, "number", v)
  end
  if v ~= v or v < min or v > max then
    raise(("%s: bad argument #%d (%s %s out of range %s-%s)"):format(name, index, field, tostring(v), min, max))
  end
  return v
end

local function opt_boolean(name, index, t, field)
  local v = t[field]
  if v ~= nil and type(v) ~= "boolean" then
    field_error(name, index, field, "boolean", v)
  end
  return v
end

local function opt_function(name, index, t, field)
  local v = t[field]
  if v ~= nil and type(v) ~= "function" then
    field_error(name, index, field, "function", v)
  end
  return v
end

--- A QoS value (0, 1, 2; nil gives `default`).
function M.qos(name, index, value, default, field)
  if value == nil then
    return default or 0
  end
  if math_type(value) == "float" and value == math.floor(value) then
    value = math.tointeger(value)
  end
  if value ~= 0 and value ~= 1 and value ~= 2 then
    raise(("%s: bad argument #%d (%sQoS 0, 1 or 2 expected, got %s)"):format(
      name, index, field and (field .. ": ") or "", tostring(value)))
  end
  return value
end

--- An options table (nil gives an empty one).
function M.table(name, index, value)
  if value == nil then
    return {}
  end
  if type(value) ~= "table" then
    bad(name, index, "table", value)
  end
  return value
end

--- The `callback` field of an options table.
function M.callback(name, index, options)
  return opt_function(name, index, options, "callback")
end

--- Splits a broker URI (`mqtt://host:port`, `mqtts://host`, `host`, `[::1]:1883`, with an
--- optional `user:password@`) into its parts; `tls` is nil when the URI has no scheme.
local function parse_uri(name, uri)
  local scheme, rest = uri:match("^(%a[%w+.-]*)://(.*)$")
  local tls
  if scheme then
    scheme = scheme:lower()
    if scheme == "mqtt" or scheme == "tcp" then
      tls = false
    elseif scheme == "mqtts" or scheme == "ssl" or scheme == "tls" then
      tls = true
    else
      raise(("%s: bad argument #1 (unsupported scheme '%s://' in '%s'; expected mqtt:// or mqtts://)"):format(name, scheme, uri))
    end
  else
    rest = uri
  end
  rest = rest:gsub("[/?#].*$", "")
  local user, password
  local userinfo, hostport = rest:match("^(.*)@(.*)$")
  if userinfo then
    rest = hostport
    user, password = userinfo:match("^([^:]*):(.*)$")
    user = user or userinfo
  end
  local host, port
  if rest:sub(1, 1) == "[" then
    host, port = rest:match("^%[([^%]]+)%]:?(%d*)$")
  else
    host, port = rest:match("^([^:]+):?(%d*)$")
  end
  if not host or host == "" then
    raise(("%s: bad argument #1 (invalid broker address '%s')"):format(name, uri))
  end
  port = tonumber(port)
  if port and (port < 1 or port > 65535) then
    raise(("%s: bad argument #1 (port %d out of range 1-65535 in '%s')"):format(name, port, uri))
  end
  return { host = host, port = port, tls = tls, username = user, password = password }
end

local function random_id()
  return ("plua-%08x"):format(math.random(0, 0x7fffffff))
end

-- The last will: {topic, payload, qos, retain}.
local function last_will(name, index, will)
  if will == nil then
    return nil
  end
  if type(will) ~= "table" then
    field_error(name, index, "lastWill", "table", will)
  end
  local topic = will.topic
  if type(topic) ~= "string" or topic == "" then
    field_error(name, index, "lastWill.topic", "non-empty string", topic)
  end
  if topic:find("[+#]") then
    raise(("%s: bad argument #%d (lastWill.topic '%s' must not contain the wildcards + or #)"):format(name, index, topic))
  end
  local payload = will.payload or will.message or ""
  if type(payload) == "number" then
    payload = tostring(payload)
  elseif type(payload) ~= "string" then
    field_error(name, index, "lastWill.payload", "string", payload)
  end
  return {
    topic = topic,
    payload = payload,
    qos = M.qos(name, index, will.qos, 0, "lastWill.qos"),
    retain = opt_boolean(name, index, will, "retain") or false,
  }
end

-- TLS settings from `options.tls` (HC3: allowUnauthorized, certificateAuthority) and plua's
-- `verify`, `cafile`, `servername` (in `tls` or at the top level).
local function tls_settings(name, index, options)
  local tls = options.tls
  if tls ~= nil and type(tls) ~= "table" then
    field_error(name, index, "tls", "table", tls)
  end
  tls = tls or {}
  local verify = true
  if tls.allowUnauthorized == true or tls.verify == false or options.verify == false
    or options.checkCertificate == false then
    verify = false
  end
  if tls.clientCertificate ~= nil or tls.clientKey ~= nil then
    raise(("%s: bad argument #%d (tls.clientCertificate/clientKey: client certificates are not supported)"):format(name, index))
  end
  return {
    verify = verify,
    cafile = opt_string(name, index, tls, "cafile") or opt_string(name, index, options, "cafile"),
    ca_pem = opt_string(name, index, tls, "certificateAuthority"),
    servername = opt_string(name, index, tls, "servername") or opt_string(name, index, options, "servername"),
  }
end

--- Checks `mqtt.Client.connect(uri, options)` / `client:connect(uri, options)` and returns the
--- settings: host, port, tls (bool), tls_opts, clientId, keepAlive (s), cleanSession,
--- username, password, will, callback, timeout (ms), maxPacketSize.
function M.connect(name, uri, options, defaults, tls_default)
  uri = checks.string(name, 1, uri)
  options = M.table(name, 2, options)
  if defaults then
    local merged = {}
    for k, v in pairs(defaults) do
      merged[k] = v
    end
    for k, v in pairs(options) do
      merged[k] = v
    end
    options = merged
  end
  local parsed = parse_uri(name, uri)
  local tls = parsed.tls
  if tls == nil then
    tls = tls_default or false
  end
  local s = {
    host = parsed.host,
    tls = tls,
    tls_opts = tls and tls_settings(name, 2, options) or nil,
    clientId = opt_string(name, 2, options, "clientId") or random_id(),
    keepAlive = opt_number(name, 2, options, "keepAlivePeriod", 0, 65535)
      or opt_number(name, 2, options, "keepalive", 0, 65535) or 0,
    cleanSession = opt_boolean(name, 2, options, "cleanSession"),
    username = opt_string(name, 2, options, "username") or parsed.username,
    password = opt_string(name, 2, options, "password") or parsed.password,
    will = last_will(name, 2, options.lastWill),
    callback = opt_function(name, 2, options, "callback"),
    timeout = opt_number(name, 2, options, "connectTimeout", 1, 2 ^ 31) or M.CONNECT_TIMEOUT,
    maxPacketSize = opt_number(name, 2, options, "maxPacketSize", 2, 268435455) or M.MAX_PACKET,
  }
  s.port = math.tointeger(opt_number(name, 2, options, "port", 1, 65535) or parsed.port or (tls and 8883 or 1883))
  s.keepAlive = math.floor(s.keepAlive)
  if s.cleanSession == nil then
    s.cleanSession = true
  end
  if s.password ~= nil and s.username == nil then
    raise(("%s: bad argument #2 (a password needs a username in MQTT 3.1.1)"):format(name))
  end
  return s
end

-- One topic filter for subscribe/unsubscribe.
local function filter(name, index, topic)
  if type(topic) ~= "string" then
    raise(("%s: bad argument #%d (topic string expected, got %s)"):format(name, index, type(topic)))
  end
  if topic == "" then
    raise(("%s: bad argument #%d (empty topic filter)"):format(name, index))
  end
  return topic
end

--- `subscribe(topics, options)`: a topic, a list of topics, or a list of {topic, qos} pairs
--- (or {topic = ..., qos = ...}); `options.qos` is the default QoS. Returns {{topic, qos}...}.
function M.subscriptions(name, topics, options)
  local qos = M.qos(name, 2, options.qos, 0, "qos")
  if type(topics) == "string" then
    return { { topic = filter(name, 1, topics), qos = qos } }
  end
  if type(topics) ~= "table" then
    raise(("%s: bad argument #1 (topic string or list of topics expected, got %s)"):format(name, type(topics)))
  end
  local list = {}
  for i, entry in ipairs(topics) do
    if type(entry) == "table" then
      local topic = entry.topic or entry[1]
      list[i] = { topic = filter(name, 1, topic), qos = M.qos(name, 1, entry.qos or entry[2], qos) }
    else
      list[i] = { topic = filter(name, 1, entry), qos = qos }
    end
  end
  if #list == 0 then
    raise(("%s: bad argument #1 (empty list of topics)"):format(name))
  end
  return list
end

--- `unsubscribe(topics, options)`: a topic or a list of topics. Returns {topic, ...}.
function M.unsubscriptions(name, topics)
  if type(topics) == "string" then
    return { filter(name, 1, topics) }
  end
  if type(topics) ~= "table" then
    raise(("%s: bad argument #1 (topic string or list of topics expected, got %s)"):format(name, type(topics)))
  end
  local list = {}
  for i, topic in ipairs(topics) do
    list[i] = filter(name, 1, topic)
  end
  if #list == 0 then
    raise(("%s: bad argument #1 (empty list of topics)"):format(name))
  end
  return list
end

--- `publish(topic, payload, options)`: returns topic, payload, qos, retain, callback.
function M.publish(name, topic, payload, options)
  topic = filter(name, 1, topic)
  if topic:find("[+#]") then
    raise(("%s: bad argument #1 (topic '%s' must not contain the wildcards + or #)"):format(name, topic))
  end
  if payload == nil then
    payload = ""
  elseif type(payload) == "number" or type(payload) == "boolean" then
    payload = tostring(payload)
  elseif type(payload) ~= "string" then
    bad(name, 2, "string", payload)
  end
  options = M.table(name, 3, options)
  return topic, payload, M.qos(name, 3, options.qos, 0, "qos"), opt_boolean(name, 3, options, "retain") or false,
    M.callback(name, 3, options)
end

return M
