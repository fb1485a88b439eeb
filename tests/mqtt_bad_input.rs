//! The MQTT client facing bad input: brokers that send malformed or out-of-place packets (a
//! Python fake broker), refused and silent connections, and wrong arguments from the script.
//! Each gives an `error` event or a Lua error naming the function, argument and line, never a
//! Lua error escaping, a hang or a socket left open. Also: the packet codec on its own, and
//! that nothing of MQTT loads at start-up.

mod mqtt_support;
mod support;

use mqtt_support::run_mqtt;
use support::*;

/// A fake broker: for each of its connections in turn it reads the CONNECT, sends the
/// next reply (hex) from `replies`, then prints `closed N` once the client has closed the
/// socket (or `open N` if it is still open after 10 s).
fn fake_broker(replies: &[&str]) -> (Running, u16) {
    let list = replies
        .iter()
        .map(|r| format!("'{r}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let code = format!(
        r#"
import socket
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
for n, reply in enumerate([{list}]):
    c, _ = s.accept()
    c.settimeout(10)
    c.recv(65536)
    c.sendall(bytes.fromhex(reply))
    try:
        while c.recv(65536):
            pass
        print('closed', n, flush=True)
    except socket.timeout:
        print('open', n, flush=True)
    c.close()
"#
    );
    python_server(&code, &[])
}

#[test]
fn malformed_or_misplaced_packets_from_the_broker_give_an_error_and_close_the_connection() {
    // (CONNACK accepted +) bad bytes, and the message the client reports for them.
    let cases: [(&str, &str); 9] = [
        ("20020000" /* ok */, "00 00"),
        ("20020000", "30ffffffff01"),
        ("20020000", "36050001610001"),
        ("20020000", "3004000561 62"),
        ("20020000", "30050002c328 41"),
        ("20020000", "30ff7f"),
        ("20020000", "820600010001 6100"),
        ("20020000", "20020000"),
        ("", "30030001 61"),
    ];
    let expected = [
        "malformed packet: reserved packet type 0",
        "malformed packet: remaining length longer than 4 bytes",
        "malformed PUBLISH packet: PUBLISH with QoS 3",
        "malformed PUBLISH packet: truncated topic",
        "malformed PUBLISH packet: topic is not valid UTF-8",
        "packet of 16383 bytes is over the limit of 1024 bytes",
        "protocol error: the broker sent SUBSCRIBE, which only clients send",
        "protocol error: a second CONNACK from the broker",
        "protocol error: PUBLISH from the broker before CONNACK",
    ];
    let replies: Vec<String> = cases
        .iter()
        .map(|(a, b)| format!("{a}{b}").replace(' ', ""))
        .collect();
    let replies: Vec<&str> = replies.iter().map(String::as_str).collect();
    let (mut broker, port) = fake_broker(&replies);
    let out = run_mqtt(
        r#"
local N = tonumber(arg[2])
local function case(i)
  if i > N then return end
  local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT, { maxPacketSize = 1024 })
  watch(client, "case" .. i)
  client:addEventListener("message", function(e) print("case" .. i .. " message?! " .. e.topic) end)
  client:addEventListener("closed", function() case(i + 1) end)
end
case(1)
"#,
        &[&port.to_string(), &cases.len().to_string()],
    );
    out.assert_code(0).assert_no_panic();
    assert!(out.stderr.is_empty(), "Lua errors escaped: {}", out.stderr);
    for (i, message) in expected.iter().enumerate() {
        let n = i + 1;
        assert_has_line(&out, &format!("case{n} error -1 {message}"));
        assert_has_line(&out, &format!("case{n} closed {message}"));
        // The client closed its socket right away.
        broker.wait_for_stdout(&format!("closed {i}\n"));
    }
    assert!(!out.stdout.contains("message?!"), "{}", out.stdout);
}

#[test]
fn a_broker_that_never_answers_connect_times_out() {
    let (mut broker, port) = fake_broker(&[""]);
    let out = run_mqtt(
        r#"
local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT, { connectTimeout = 300,
  callback = function(code) print("callback " .. code) end })
watch(client)
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(
        &out,
        "error -1 timeout: no CONNACK from the broker within 0.3 s",
    );
    assert_has_line(&out, "callback -1");
    broker.wait_for_stdout("closed 0");
}

#[test]
fn a_broker_that_stops_answering_pings_is_dropped_after_the_keepalive_period() {
    // CONNACK, then silence: the PINGREQs go unanswered.
    let (mut broker, port) = fake_broker(&["20020000"]);
    let out = run_mqtt(
        r#"
local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT, { keepAlivePeriod = 1 })
watch(client)
client:addEventListener("connected", function() print("connected") end)
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "connected");
    assert_has_line(
        &out,
        "error -1 keep-alive timeout: no PINGRESP from the broker within 1 s",
    );
    broker.wait_for_stdout("closed 0");
}

#[test]
fn a_broker_that_hangs_up_before_connack_gives_an_error() {
    let (_broker, port) = python_server(
        "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen(1)\n\
         print(s.getsockname()[1], flush=True)\nc, _ = s.accept()\nc.recv(65536)\nc.close()\n\
         import time\ntime.sleep(5)\n",
        &[],
    );
    let out = run_mqtt(
        "local client = mqtt.Client.connect('127.0.0.1:' .. PORT)\nwatch(client)\n",
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(
        &out,
        "error -1 connection closed by the broker before CONNACK",
    );
}

#[test]
fn a_refused_connection_gives_an_error_event_then_closed() {
    let port = free_port().to_string();
    let out = run_mqtt(
        r#"
local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT)
watch(client)
client:addEventListener("connected", function() print("connected?!") end)
"#,
        &[&port],
    );
    out.assert_code(0).assert_no_panic();
    // The TCP layer's message, in the original's wording (`TCP connect error: ...`).
    let refused =
        format!("cannot connect to 127.0.0.1:{port}: TCP connect error: connection refused");
    assert_has_line(&out, &format!("error -1 {refused}"));
    assert_has_line(&out, &format!("closed {refused}"));
}

#[test]
fn wrong_arguments_raise_errors_naming_the_function_argument_and_line() {
    let out = run_mqtt(
        r#"
local net = require("net")
local client = net.MQTTClient()
local function try(f) local ok, err = pcall(f) print(ok and "no error" or err) end
try(function() mqtt.Client.connect() end)
try(function() mqtt.Client.connect("ftp://host") end)
try(function() mqtt.Client.connect("host", { keepAlivePeriod = "soon" }) end)
try(function() mqtt.Client.connect("host", { lastWill = { payload = "x" } }) end)
try(function() mqtt.Client.connect("host", { password = "p" }) end)
try(function() client:publish(nil, "x") end)
try(function() client:publish("a/#", "x") end)
try(function() client:publish("a", {}, { qos = 1 }) end)
try(function() client:publish("a", "x", { qos = 3 }) end)
try(function() client:subscribe(42) end)
try(function() client:subscribe({}) end)
try(function() client:addEventListener("mesage", print) end)
try(function() client:addEventListener("message") end)
try(function() client.publish("a", "x") end)
try(function() net.MQTTClient(5) end)
print("publish when idle: " .. tostring(client:publish("a", "x")))
"#,
        &["0"],
    );
    out.assert_code(0).assert_no_panic();
    let expected = [
        "script.lua:13: mqtt.Client.connect: bad argument #1 (string expected, got nil)",
        "script.lua:14: mqtt.Client.connect: bad argument #1 (unsupported scheme 'ftp://' in 'ftp://host'; expected mqtt:// or mqtts://)",
        "script.lua:15: mqtt.Client.connect: bad argument #2 (keepAlivePeriod: number expected, got string)",
        "script.lua:16: mqtt.Client.connect: bad argument #2 (lastWill.topic: non-empty string expected, got nil)",
        "script.lua:17: mqtt.Client.connect: bad argument #2 (a password needs a username in MQTT 3.1.1)",
        "script.lua:18: MQTTClient:publish: bad argument #1 (topic string expected, got nil)",
        "script.lua:19: MQTTClient:publish: bad argument #1 (topic 'a/#' must not contain the wildcards + or #)",
        "script.lua:20: MQTTClient:publish: bad argument #2 (string expected, got table)",
        "script.lua:21: MQTTClient:publish: bad argument #3 (qos: QoS 0, 1 or 2 expected, got 3)",
        "script.lua:22: MQTTClient:subscribe: bad argument #1 (topic string or list of topics expected, got number)",
        "script.lua:23: MQTTClient:subscribe: bad argument #1 (empty list of topics)",
        "script.lua:24: MQTTClient:addEventListener: bad argument #1 (unknown event 'mesage'; expected connected, closed, message, subscribed, unsubscribed, published or error)",
        "script.lua:25: MQTTClient:addEventListener: bad argument #2 (function expected, got nil)",
        "script.lua:26: MQTTClient:publish: bad self (call it as client:publish(...))",
        "script.lua:27: net.MQTTClient: bad argument #1 (table expected, got number)",
        "publish when idle: nil",
    ];
    for line in expected {
        assert_has_line(&out, line);
    }
}

#[test]
fn the_codec_round_trips_every_packet_type_fed_byte_by_byte() {
    let out = run_script(
        r#"
local codec = require("net.mqtt_codec")
local packets = {
  { type = "connect", clientId = "abc", keepAlive = 10, username = "u", password = "p",
    will = { topic = "w", payload = "bye", qos = 1, retain = true } },
  { type = "connack", sessionPresent = true, returnCode = 0 },
  { type = "publish", topic = "a/b", payload = ("x"):rep(300), qos = 2, retain = true, dup = true, packetId = 65535 },
  { type = "publish", topic = "a/b", payload = "" },
  { type = "puback", packetId = 1 }, { type = "pubrec", packetId = 2 },
  { type = "pubrel", packetId = 3 }, { type = "pubcomp", packetId = 4 },
  { type = "subscribe", packetId = 5, topics = { { topic = "a/#", qos = 1 }, { topic = "+/b", qos = 2 } } },
  { type = "suback", packetId = 5, results = { 1, 2, 128 } },
  { type = "unsubscribe", packetId = 6, topics = { "a/#", "b" } },
  { type = "unsuback", packetId = 6 }, { type = "pingreq" }, { type = "pingresp" }, { type = "disconnect" },
}
local bytes = {}
for i, p in ipairs(packets) do bytes[i] = assert(codec.encode(p)) end
-- known encodings from the MQTT 3.1.1 specification
print("pingreq " .. (bytes[13]:gsub(".", function(c) return ("%02x"):format(c:byte()) end)))
print("pubrel " .. (bytes[7]:gsub(".", function(c) return ("%02x"):format(c:byte()) end)))
print("varint " .. (bytes[3]:sub(2, 3):gsub(".", function(c) return ("%02x"):format(c:byte()) end)))
local stream = table.concat(bytes)
local decoder, got = codec.decoder(), {}
for i = 1, #stream do
  decoder:feed(stream:sub(i, i))
  while true do
    local p, err = decoder:next()
    if p == nil then break end
    assert(p, err)
    got[#got + 1] = p
  end
end
local function same(a, b)
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  return true
end
local ok = #got == #packets
for i, p in ipairs(packets) do ok = ok and same(p, got[i]) end
print("decoded " .. #got .. " of " .. #packets .. " equal " .. tostring(ok) .. " left " .. decoder:buffered())
print(select(2, codec.encode({ type = "publish", topic = ("t"):rep(70000) })))
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "pingreq c000");
    assert_has_line(&out, "pubrel 62020003");
    // 300 + 2 + 3 + 2 = 307 bytes remaining: 0xb3 0x02
    assert_has_line(&out, "varint b302");
    assert_has_line(&out, "decoded 15 of 15 equal true left 0");
    assert_has_line(&out, "topic is 70000 bytes long (at most 65535)");
}

#[test]
fn nothing_of_mqtt_loads_at_start_up_and_the_module_sets_no_global() {
    let out = run_script(
        r#"
print("at start: " .. tostring(package.loaded["net.mqtt"]) .. " " .. tostring(package.loaded["net.mqtt_codec"]))
local mqtt = require("mqtt")
print("global: " .. tostring(rawget(_G, "mqtt")) .. " QoS " .. mqtt.QoS.EXACTLY_ONCE)
local net = require("net")
print("net: " .. tostring(net.QoS == mqtt.QoS) .. " " .. type(net.MQTTClient) .. " " .. type(net.MQTTClientTls))
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "at start: nil nil");
    assert_has_line(&out, "global: nil QoS 2");
    assert_has_line(&out, "net: true function function");
}
