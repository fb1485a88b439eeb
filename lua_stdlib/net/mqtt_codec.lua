-- net.mqtt_codec: the MQTT 3.1.1 (protocol level 4) wire format, both directions, for every
-- packet type. No I/O and no state beyond a decoder's buffer: `encode(packet)` turns a packet
-- table into bytes, `decoder(max)` gives an incremental decoder that takes TCP reads of any
-- size and hands back whole packets, or a "malformed ..." message for bytes that break the
-- specification (the client then drops the connection).
--
-- Packet tables: `{type = "publish", topic = "a/b", payload = "x", qos = 1, retain = false,
-- dup = false, packetId = 7}`; the other types and their fields are listed at `encoders`.

local M = {}

local char, byte, pack, unpack = string.char, string.byte, string.pack, string.unpack
local concat, type, error, pcall = table.concat, type, error, pcall
local utf8_len = utf8.len

--- Packet type numbers (fixed header, high nibble) by name, and names by number.
M.TYPES = {
  connect = 1, connack = 2, publish = 3, puback = 4, pubrec = 5, pubrel = 6, pubcomp = 7,
  subscribe = 8, suback = 9, unsubscribe = 10, unsuback = 11, pingreq = 12, pingresp = 13,
  disconnect = 14,
}
local NAMES = {}
for name, number in pairs(M.TYPES) do
  NAMES[number] = name
end
M.NAMES = NAMES

--- The largest remaining length the 4-byte varint can express (256 MiB - 1).
M.MAX_REMAINING = 268435455

--- Texts of the CONNACK return codes 1-5.
M.CONNACK_TEXT = {
  [1] = "unacceptable protocol version",
  [2] = "identifier rejected",
  [3] = "server unavailable",
  [4] = "bad user name or password",
  [5] = "not authorized",
}

---------------------------------------------------------------------------------------------
-- Encoding
---------------------------------------------------------------------------------------------

-- Fixed header flags that 3.1.1 requires for the types that are not PUBLISH.
local FLAGS = { pubrel = 2, subscribe = 2, unsubscribe = 2 }

local function varint(n)
  local out = {}
  repeat
    local digit = n % 128
    n = n // 128
    if n > 0 then
      digit = digit + 128
    end
    out[#out + 1] = char(digit)
  until n == 0
  return concat(out)
end

-- A length-prefixed string (UTF-8 string or binary data: both are u16 length + bytes).
local function str(s, what)
  if type(s) ~= "string" then
    error(("%s must be a string"):format(what), 0)
  end
  if #s > 65535 then
    error(("%s is %d bytes long (at most 65535)"):format(what, #s), 0)
  end
  return pack(">s2", s)
end

local function id16(id)
  if math.type(id) ~= "integer" or id < 1 or id > 65535 then
    error(("packet id %s out of range 1-65535"):format(tostring(id)), 0)
  end
  return pack(">I2", id)
end

local function qos_of(qos, what)
  qos = qos or 0
  if qos ~= 0 and qos ~= 1 and qos ~= 2 then
    error(("%s QoS %s is not 0, 1 or 2"):format(what, tostring(qos)), 0)
  end
  return qos
end

local function id_only(p)
  return id16(p.packetId)
end

local function empty()
  return ""
end

-- Each encoder returns (body, flags) for its packet type.
local encoders = {
  -- clientId, keepAlive (s), cleanSession, username, password, will = {topic, payload, qos,
  -- retain}; protocolName and protocolLevel default to "MQTT" and 4.
  connect = function(p)
    local flags = 0
    local parts = {
      str(p.protocolName or "MQTT", "protocol name"),
      char(p.protocolLevel or 4),
      "", -- flags, filled in below
      pack(">I2", p.keepAlive or 0),
      str(p.clientId or "", "client id"),
    }
    if p.cleanSession ~= false then
      flags = flags | 0x02
    end
    local will = p.will
    if will then
      flags = flags | 0x04 | (qos_of(will.qos, "last will") << 3)
      if will.retain then
        flags = flags | 0x20
      end
      parts[#parts + 1] = str(will.topic, "last will topic")
      parts[#parts + 1] = str(will.payload or "", "last will payload")
    end
    if p.username ~= nil then
      flags = flags | 0x80
      parts[#parts + 1] = str(p.username, "user name")
    end
    if p.password ~= nil then
      flags = flags | 0x40
      parts[#parts + 1] = str(p.password, "password")
    end
    parts[3] = char(flags)
    return concat(parts)
  end,
  -- sessionPresent, returnCode
  connack = function(p)
    return char(p.sessionPresent and 1 or 0, p.returnCode or 0)
  end,
  -- topic, payload, qos, retain, dup, packetId (QoS 1 and 2 only)
  publish = function(p)
    local qos = qos_of(p.qos, "publish")
    local flags = (qos << 1) | (p.retain and 1 or 0) | (p.dup and 8 or 0)
    local payload = p.payload or ""
    if type(payload) ~= "string" then
      error("payload must be a string", 0)
    end
    local head = str(p.topic, "topic")
    if qos > 0 then
      head = head .. id16(p.packetId)
    end
    return head .. payload, flags
  end,
  puback = id_only,
  pubrec = id_only,
  pubrel = id_only,
  pubcomp = id_only,
  unsuback = id_only,
  -- packetId, topics = {{topic = "a/#", qos = 1}, ...}
  subscribe = function(p)
    local parts = { id16(p.packetId) }
    for _, t in ipairs(p.topics) do
      parts[#parts + 1] = str(t.topic, "topic filter") .. char(qos_of(t.qos, "subscription"))
    end
    if #parts == 1 then
      error("subscribe needs at least one topic filter", 0)
    end
    return concat(parts)
  end,
  -- packetId, results = {0, 1, 2 or 0x80 per topic}
  suback = function(p)
    local codes = {}
    for i, code in ipairs(p.results) do
      codes[i] = char(code)
    end
    return id16(p.packetId) .. concat(codes)
  end,
  -- packetId, topics = {"a/#", ...}
  unsubscribe = function(p)
    local parts = { id16(p.packetId) }
    for _, topic in ipairs(p.topics) do
      parts[#parts + 1] = str(topic, "topic filter")
    end
    if #parts == 1 then
      error("unsubscribe needs at least one topic filter", 0)
    end
    return concat(parts)
  end,
  pingreq = empty,
  pingresp = empty,
  disconnect = empty,
}

--- The bytes of `packet`, or nil and a message saying what in it cannot be encoded.
function M.encode(packet)
  local number = M.TYPES[packet.type]
  if not number then
    return nil, ("unknown packet type '%s'"):format(tostring(packet.type))
  end
  local ok, body, flags = pcall(encoders[packet.type], packet)
  if not ok then
    return nil, tostring(body)
  end
  if #body > M.MAX_REMAINING then
    return nil, ("packet of %d bytes is over the MQTT limit of 256 MiB"):format(#body)
  end
  return char((number << 4) | (flags or FLAGS[packet.type] or 0)) .. varint(#body) .. body
end

---------------------------------------------------------------------------------------------
-- Decoding
---------------------------------------------------------------------------------------------

-- A cursor over one packet body; every read checks the bounds and raises "truncated ...".
local Reader = {}
Reader.__index = Reader

local function malformed(message)
  error(message, 0)
end

function Reader:u8(what)
  local i = self.i
  if i > self.n then
    malformed(("truncated %s"):format(what))
  end
  self.i = i + 1
  return byte(self.s, i)
end

function Reader:u16(what)
  local i = self.i
  if i + 1 > self.n then
    malformed(("truncated %s"):format(what))
  end
  self.i = i + 2
  return unpack(">I2", self.s, i)
end

function Reader:id()
  local id = self:u16("packet id")
  if id == 0 then
    malformed("packet id 0")
  end
  return id
end

function Reader:bytes(what)
  local len = self:u16(what .. " length")
  local i = self.i
  if i + len - 1 > self.n then
    malformed(("truncated %s"):format(what))
  end
  self.i = i + len
  return self.s:sub(i, i + len - 1)
end

-- A UTF-8 string field: well-formed UTF-8 without U+0000 (MQTT-1.5.3-1, -2).
function Reader:text(what)
  local s = self:bytes(what)
  if not utf8_len(s) then
    malformed(("%s is not valid UTF-8"):format(what))
  end
  if s:find("\0", 1, true) then
    malformed(("%s contains U+0000"):format(what))
  end
  return s
end

function Reader:rest()
  local s = self.s:sub(self.i)
  self.i = self.n + 1
  return s
end

function Reader:more()
  return self.i <= self.n
end

local function expect_end(r, name)
  if r:more() then
    malformed(("%d extra bytes in %s"):format(r.n - r.i + 1, name:upper()))
  end
end

local function decode_id_only(name)
  return function(r)
    local p = { type = name, packetId = r:id() }
    expect_end(r, name)
    return p
  end
end

local function decode_empty(name)
  return function(r)
    expect_end(r, name)
    return { type = name }
  end
end

local decoders = {
  connect = function(r)
    local p = { type = "connect" }
    p.protocolName = r:text("protocol name")
    p.protocolLevel = r:u8("protocol level")
    local flags = r:u8("connect flags")
    if flags & 1 ~= 0 then
      malformed("reserved connect flag set")
    end
    p.keepAlive = r:u16("keep alive")
    p.clientId = r:text("client id")
    p.cleanSession = flags & 0x02 ~= 0
    if flags & 0x04 ~= 0 then
      local qos = (flags >> 3) & 3
      if qos == 3 then
        malformed("last will QoS 3")
      end
      p.will = { qos = qos, retain = flags & 0x20 ~= 0 }
      p.will.topic = r:text("last will topic")
      p.will.payload = r:bytes("last will payload")
    elseif flags & 0x38 ~= 0 then
      malformed("last will QoS or retain set without a last will")
    end
    if flags & 0x80 ~= 0 then
      p.username = r:text("user name")
    end
    if flags & 0x40 ~= 0 then
      p.password = r:bytes("password")
    end
    expect_end(r, "connect")
    return p
  end,
  connack = function(r)
    local flags = r:u8("connack flags")
    if flags > 1 then
      malformed("reserved connack flags set")
    end
    local p = { type = "connack", sessionPresent = flags == 1, returnCode = r:u8("return code") }
    expect_end(r, "connack")
    return p
  end,
  publish = function(r, flags)
    local qos = (flags >> 1) & 3
    if qos == 3 then
      malformed("PUBLISH with QoS 3")
    end
    local p = { type = "publish", qos = qos, retain = flags & 1 ~= 0, dup = flags & 8 ~= 0 }
    p.topic = r:text("topic")
    if p.topic:find("[+#]") then
      malformed("PUBLISH topic with a wildcard")
    end
    if qos > 0 then
      p.packetId = r:id()
    elseif p.dup then
      malformed("DUP flag on a QoS 0 PUBLISH")
    end
    p.payload = r:rest()
    return p
  end,
  puback = decode_id_only("puback"),
  pubrec = decode_id_only("pubrec"),
  pubrel = decode_id_only("pubrel"),
  pubcomp = decode_id_only("pubcomp"),
  unsuback = decode_id_only("unsuback"),
  subscribe = function(r)
    local p = { type = "subscribe", packetId = r:id(), topics = {} }
    while r:more() do
      local topic = r:text("topic filter")
      local qos = r:u8("requested QoS")
      if qos > 2 then
        malformed("requested QoS above 2")
      end
      p.topics[#p.topics + 1] = { topic = topic, qos = qos }
    end
    if #p.topics == 0 then
      malformed("SUBSCRIBE without topic filters")
    end
    return p
  end,
  suback = function(r)
    local p = { type = "suback", packetId = r:id(), results = {} }
    while r:more() do
      local code = r:u8("return code")
      if code > 2 and code ~= 0x80 then
        malformed(("SUBACK return code %d"):format(code))
      end
      p.results[#p.results + 1] = code
    end
    if #p.results == 0 then
      malformed("SUBACK without return codes")
    end
    return p
  end,
  unsubscribe = function(r)
    local p = { type = "unsubscribe", packetId = r:id(), topics = {} }
    while r:more() do
      p.topics[#p.topics + 1] = r:text("topic filter")
    end
    if #p.topics == 0 then
      malformed("UNSUBSCRIBE without topic filters")
    end
    return p
  end,
  pingreq = decode_empty("pingreq"),
  pingresp = decode_empty("pingresp"),
  disconnect = decode_empty("disconnect"),
}

--- Decodes one packet from its first byte and body; returns the packet or nil and a message.
function M.decode(first, body)
  local number = first >> 4
  local name = NAMES[number]
  if not name then
    return nil, ("malformed packet: reserved packet type %d"):format(number)
  end
  local flags = first & 0x0F
  if name ~= "publish" and flags ~= (FLAGS[name] or 0) then
    return nil, ("malformed packet: %s with fixed header flags %d"):format(name:upper(), flags)
  end
  local r = setmetatable({ s = body, i = 1, n = #body }, Reader)
  local ok, packet = pcall(decoders[name], r, flags)
  if not ok then
    return nil, ("malformed %s packet: %s"):format(name:upper(), tostring(packet))
  end
  return packet
end

-- The incremental decoder: `buf` from `pos` on is unread; later reads wait in `queue` and are
-- joined only once a whole packet is there, so a large packet is copied once, not per read.
local Decoder = {}
Decoder.__index = Decoder

--- A decoder that rejects packets whose remaining length is over `max` bytes.
function M.decoder(max)
  return setmetatable({ buf = "", pos = 1, queue = {}, queued = 0, max = max or M.MAX_REMAINING }, Decoder)
end

--- Adds bytes read from the connection.
function Decoder:feed(data)
  if #data > 0 then
    self.queue[#self.queue + 1] = data
    self.queued = self.queued + #data
  end
end

--- Bytes not yet consumed by `next`.
function Decoder:buffered()
  return #self.buf - self.pos + 1 + self.queued
end

-- Makes at least `n` unread bytes contiguous in `buf`; false when fewer than `n` have arrived.
function Decoder:need(n)
  local have = #self.buf - self.pos + 1
  if have >= n then
    return true
  end
  if have + self.queued < n then
    return false
  end
  self.queue[0] = self.buf:sub(self.pos)
  self.buf = concat(self.queue, "", 0, #self.queue)
  self.pos, self.queue, self.queued = 1, {}, 0
  return true
end

--- The next whole packet; nil when more bytes are needed; false and a message when the bytes
--- are not MQTT (the stream cannot be resynchronised after that).
function Decoder:next()
  if not self:need(2) then
    return nil
  end
  local buf, pos = self.buf, self.pos
  local first = byte(buf, pos)
  local length, multiplier, used = 0, 1, 1
  while true do
    if not self:need(used + 1) then
      return nil
    end
    buf, pos = self.buf, self.pos
    local digit = byte(buf, pos + used)
    used = used + 1
    length = length + (digit & 127) * multiplier
    if digit < 128 then
      break
    end
    if used == 5 then
      return false, "malformed packet: remaining length longer than 4 bytes"
    end
    multiplier = multiplier * 128
  end
  if length > self.max then
    return false, ("packet of %d bytes is over the limit of %d bytes"):format(length, self.max)
  end
  if not self:need(used + length) then
    return nil
  end
  buf, pos = self.buf, self.pos
  local body = buf:sub(pos + used, pos + used + length - 1)
  self.pos = pos + used + length
  if self.pos > #buf then
    self.buf, self.pos = "", 1
  end
  local packet, message = M.decode(first, body)
  if not packet then
    return false, message
  end
  return packet
end

return M
