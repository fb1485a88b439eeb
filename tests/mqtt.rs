//! The MQTT client (`net.MQTTClient`, `require("mqtt").Client.connect`) against a real
//! `mosquitto` broker each test starts on free ports (see mqtt_support): QoS 0/1/2 in both
//! directions with mosquitto's own clients as the other side, retained messages, the last
//! will, unsubscribe, TLS, credentials and a QuickApp-style script (connection lifetime:
//! mqtt_connection_lifetime.rs; bad input: mqtt_bad_input.rs).

mod mqtt_support;
mod support;

use mqtt_support::{Broker, PASSWORD, USER, messages, run_mqtt, start_mqtt};
use support::*;

#[test]
fn qos_0_1_2_publishes_from_plua_reach_mosquitto_sub_with_their_qos() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let sub = broker.subscriber("plua/out/#", 2, 3);
    let out = run_mqtt(
        r#"
local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT, { clientId = "publisher" })
watch(client)
local acked = 0
client:addEventListener("connected", function(e)
  print("connected " .. tostring(e.sessionPresent) .. " " .. e.returnCode)
  for qos = 0, 2 do
    print("id " .. qos .. " " .. client:publish("plua/out/" .. qos, "payload " .. qos, { qos = qos }))
  end
end)
client:addEventListener("published", function(e)
  if e.packetId > 0 then
    print("published " .. e.packetId)
    acked = acked + 1
    if acked == 2 then client:disconnect() end
  end
end)
"#,
        &[&broker.port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "connected false 0");
    assert_has_line(&out, "id 0 0");
    // QoS 1 and 2 get packet ids, and their PUBACK / PUBREC-PUBREL-PUBCOMP complete.
    assert_has_line(&out, "id 1 1");
    assert_has_line(&out, "id 2 2");
    assert_has_line(&out, "published 1");
    assert_has_line(&out, "published 2");
    assert_has_line(&out, "closed disconnected");
    let got = messages(&sub.finish(GUARD));
    assert_eq!(
        got,
        [
            "0 0 plua/out/0 payload 0",
            "1 0 plua/out/1 payload 1",
            "2 0 plua/out/2 payload 2"
        ]
    );
}

#[test]
fn qos_0_1_2_publishes_from_mosquitto_pub_reach_plua_with_their_qos() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let (_dir, mut plua) = start_mqtt(
        r#"
local client = mqtt.Client.connect("127.0.0.1", { port = PORT })
watch(client)
local seen = 0
client:addEventListener("connected", function()
  client:subscribe("plua/in/#", { qos = mqtt.QoS.EXACTLY_ONCE })
end)
client:addEventListener("subscribed", function(e)
  print("subscribed " .. e.packetId .. " " .. table.concat(e.results, ","))
end)
client:addEventListener("message", function(e)
  print(("message %s %s qos=%d retain=%s"):format(e.topic, e.payload, e.qos, tostring(e.retain)))
  seen = seen + 1
  if seen == 3 then client:disconnect() end
end)
"#,
        &[&broker.port.to_string()],
    );
    plua.wait_for_stdout("subscribed 1 2");
    for qos in 0..=2 {
        broker.publish(
            &format!("plua/in/{qos}"),
            &format!("from pub {qos}"),
            qos,
            &[],
        );
    }
    let out = plua.finish(GUARD);
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "message plua/in/0 from pub 0 qos=0 retain=false");
    assert_has_line(&out, "message plua/in/1 from pub 1 qos=1 retain=false");
    assert_has_line(&out, "message plua/in/2 from pub 2 qos=2 retain=false");
}

#[test]
fn messages_between_two_plua_clients_arrive_once_and_in_order() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let out = run_mqtt(
        r#"
local N = 200
local uri = "mqtt://127.0.0.1:" .. PORT
local sub = mqtt.Client.connect(uri, { clientId = "sub" })
watch(sub, "sub")
local got, last, ordered = {}, {}, true
sub:addEventListener("connected", function() sub:subscribe({ "seq/1", { "seq/2", 2 } }, { qos = 1 }) end)
sub:addEventListener("subscribed", function(e)
  print("granted " .. table.concat(e.results, ","))
  local pub = mqtt.Client.connect(uri, { clientId = "pub" })
  watch(pub, "pub")
  -- at most 10 in flight: mosquitto 2.0 drops QoS 1 messages for a subscriber whose
  -- 20-message inflight window is full
  local sent, done = 0, 0
  local function send()
    sent = sent + 1
    pub:publish(sent % 2 == 1 and "seq/1" or "seq/2", tostring(sent), { qos = 1 + sent % 2 })
  end
  pub:addEventListener("connected", function() for _ = 1, 10 do send() end end)
  pub:addEventListener("published", function()
    done = done + 1
    if sent < N then send() elseif done == N then pub:disconnect() end
  end)
end)
sub:addEventListener("message", function(e)
  got[#got + 1] = tonumber(e.payload)
  last[e.topic] = last[e.topic] or 0
  -- MQTT orders messages per topic (QoS 2 ones are forwarded only after PUBREL, so the two
  -- topics interleave freely)
  if tonumber(e.payload) ~= last[e.topic] + 2 and tonumber(e.payload) > 2 then ordered = false end
  last[e.topic] = tonumber(e.payload)
  if #got == N then
    print("received " .. #got .. " in order: " .. tostring(ordered))
    setTimeout(function() print("total " .. #got) sub:disconnect() end, 200)
  end
end)
"#,
        &[&broker.port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "granted 1,2");
    assert_has_line(&out, "received 200 in order: true");
    // Nothing delivered twice (QoS 2 exactly once, QoS 1 without retries on a healthy link).
    assert_has_line(&out, "total 200");
}

#[test]
fn a_large_message_arrives_whole_across_many_tcp_reads() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let out = run_mqtt(
        r#"
local payload = {}
for i = 1, 40000 do payload[i] = ("%05d|"):format(i) end
payload = table.concat(payload) .. "\0\255 binary tail"
local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT)
watch(client)
client:addEventListener("connected", function() client:subscribe("big") end)
client:addEventListener("subscribed", function() client:publish("big", payload, { qos = 1 }) end)
client:addEventListener("message", function(e)
  print("size " .. #e.payload .. " same " .. tostring(e.payload == payload))
  client:disconnect()
end)
"#,
        &[&broker.port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "size 240014 same true");
}

#[test]
fn a_retained_message_is_seen_by_a_later_subscriber() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let port = broker.port.to_string();
    let first = run_mqtt(
        r#"
local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT)
watch(client)
client:addEventListener("connected", function()
  client:publish("state/lamp", "on", { qos = 1, retain = true })
end)
client:addEventListener("published", function() print("stored") client:disconnect() end)
"#,
        &[&port],
    );
    first.assert_code(0);
    assert_has_line(&first, "stored");
    let later = run_mqtt(
        r#"
local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT)
watch(client)
client:addEventListener("connected", function() client:subscribe("state/#") end)
client:addEventListener("message", function(e)
  print(("got %s %s retain=%s"):format(e.topic, e.payload, tostring(e.retain)))
  client:disconnect()
end)
"#,
        &[&port],
    );
    later.assert_code(0).assert_no_panic();
    assert_has_line(&later, "got state/lamp on retain=true");
}

#[test]
fn the_last_will_reaches_a_second_client_when_the_first_one_dies() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let sub = broker.subscriber("status/#", 1, 1);
    let (_dir, mut plua) = start_mqtt(
        r#"
local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT, {
  clientId = "mortal",
  lastWill = { topic = "status/mortal", payload = "gone", qos = mqtt.QoS.AT_LEAST_ONCE, retain = false },
})
client:addEventListener("connected", function() print("connected") end)
"#,
        &[&broker.port.to_string()],
    );
    plua.wait_for_stdout("connected");
    // The process dies without DISCONNECT: the broker sees the socket close and sends the will.
    drop(plua.kill_and_collect());
    let got = messages(&sub.finish(GUARD));
    assert_eq!(got, ["1 0 status/mortal gone"]);
}

#[test]
fn a_clean_disconnect_does_not_send_the_last_will() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let port = broker.port.to_string();
    let out = run_mqtt(
        r#"
local watcher = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT, { clientId = "watcher" })
watch(watcher, "watcher")
watcher:addEventListener("message", function(e) print("will " .. e.payload) end)
watcher:addEventListener("connected", function() watcher:subscribe("status/#", { qos = 1 }) end)
watcher:addEventListener("subscribed", function()
  local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT, {
    lastWill = { topic = "status/polite", payload = "gone", qos = 1 },
  })
  client:addEventListener("connected", function() client:disconnect() end)
  client:addEventListener("closed", function()
    -- a marker well behind where the will would be; the will would arrive first
    setTimeout(function() watcher:publish("status/marker", "end", { qos = 1 }) end, 300)
  end)
end)
watcher:addEventListener("message", function(e)
  if e.payload == "end" then print("marker") watcher:disconnect() end
end)
"#,
        &[&port],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "marker");
    assert!(!out.stdout.contains("will gone"), "{}", out.stdout);
}

#[test]
fn unsubscribe_stops_delivery() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let out = run_mqtt(
        r#"
local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT)
watch(client)
local got = {}
client:addEventListener("connected", function() client:subscribe({ "a/#", "s/#" }, { qos = 1 }) end)
client:addEventListener("subscribed", function() client:publish("a/1", "first", { qos = 1 }) end)
client:addEventListener("message", function(e)
  got[#got + 1] = e.topic
  if e.topic == "a/1" then
    print("unsubscribe id " .. client:unsubscribe("a/#"))
  elseif e.topic == "s/end" then
    print("got " .. table.concat(got, ","))
    client:disconnect()
  end
end)
client:addEventListener("unsubscribed", function(e)
  print("unsubscribed " .. e.packetId)
  -- the broker keeps one session's messages in order: a/2 would come before s/end
  client:publish("a/2", "second", { qos = 1 })
  client:publish("s/end", "stop", { qos = 1 })
end)
"#,
        &[&broker.port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "unsubscribe id 3");
    assert_has_line(&out, "unsubscribed 3");
    assert_has_line(&out, "got a/1,s/end");
}

#[test]
fn tls_connect_and_publish_with_the_test_ca() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let out = run_mqtt(
        r#"
local CA = arg[2]
local client = mqtt.Client.connect("mqtts://localhost:" .. PORT, { tls = { cafile = CA } })
watch(client)
client:addEventListener("connected", function() client:subscribe("secure/#", { qos = 2 }) end)
client:addEventListener("subscribed", function() client:publish("secure/x", "over tls", { qos = 2 }) end)
client:addEventListener("message", function(e)
  print("tls message " .. e.payload .. " " .. tostring(client:getInfo().tls))
  client:disconnect()
end)
"#,
        &[&broker.tls_port.to_string(), &broker.pki.path("ca.pem")],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "tls message over tls true");
}

#[test]
fn tls_checks_the_certificate_unless_told_not_to() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let out = run_mqtt(
        r#"
local net = require("net")
local ca_pem = io.open(arg[2]):read("a")
local function try(tag, make)
  local client = make()
  watch(client, tag)
  client:addEventListener("connected", function() print(tag .. " connected") client:disconnect() end)
end
-- no CA: the test certificate is not trusted
try("unknown-ca", function() return net.MQTTClientTls():connect("127.0.0.1:" .. PORT) end)
-- verify = false (plua) and allowUnauthorized (HC3) accept it
try("verify-off", function() return net.MQTTClientTls({ verify = false }):connect("127.0.0.1:" .. PORT) end)
try("allow", function()
  return mqtt.Client.connect("mqtts://127.0.0.1:" .. PORT, { tls = { allowUnauthorized = true } })
end)
-- the HC3's certificateAuthority carries the CA as PEM text
try("pem", function()
  return mqtt.Client.connect("mqtts://localhost:" .. PORT, { tls = { certificateAuthority = ca_pem } })
end)
"#,
        &[&broker.tls_port.to_string(), &broker.pki.path("ca.pem")],
    );
    out.assert_code(0).assert_no_panic();
    let line = out
        .lines()
        .into_iter()
        .find(|l| l.starts_with("unknown-ca error -1 cannot connect to 127.0.0.1:"))
        .unwrap_or_else(|| panic!("no certificate error\n{}\n{}", out.stdout, out.stderr));
    assert!(line.contains("certificate"), "{line}");
    assert!(!out.stdout.contains("unknown-ca connected"));
    assert_has_line(&out, "verify-off connected");
    assert_has_line(&out, "allow connected");
    assert_has_line(&out, "pem connected");
}

#[test]
fn credentials_are_checked_and_bad_ones_give_an_error_event_with_return_code_5() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let out = run_mqtt(
        r#"
local USER, PASSWORD = arg[2], arg[3]
local function try(tag, opts)
  opts.callback = function(code) print(tag .. " callback " .. code) end
  local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT, opts)
  watch(client, tag)
  client:addEventListener("connected", function(e) print(tag .. " connected") client:disconnect() end)
end
try("good", { username = USER, password = PASSWORD })
try("bad", { username = USER, password = "not the password" })
try("anonymous", {})
"#,
        &[&broker.auth_port.to_string(), USER, PASSWORD],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "good connected");
    assert_has_line(&out, "good callback 0");
    for tag in ["bad", "anonymous"] {
        assert_has_line(
            &out,
            &format!(
                "{tag} error 5 connection refused by the broker: not authorized (return code 5)"
            ),
        );
        assert_has_line(&out, &format!("{tag} callback 5"));
        assert_has_line(
            &out,
            &format!(
                "{tag} closed connection refused by the broker: not authorized (return code 5)"
            ),
        );
    }
}

#[test]
fn a_quickapp_style_script_runs_on_mqtt_client_connect() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let out = run_mqtt(
        r#"
-- The shape of published HC3 QuickApps: a class, listeners that call methods, a setTimeout
-- polling chain that publishes, and a reconnect-on-error habit.
local function class(name)
  local c = {}
  c.__index = c
  _G[name] = c
  return c
end
class "MqttBridge"
function MqttBridge.new(url) local self = setmetatable({ url = url, count = 0, seen = {} }, MqttBridge) return self end
function MqttBridge:debug(...) print("[DEBUG][QA]: " .. table.concat({ ... }, " ")) end
function MqttBridge:onInit()
  self:debug("connecting to", self.url)
  self.client = mqtt.Client.connect(self.url, {
    port = tostring(PORT), clientId = "HC3-5555-" .. os.time(), keepAlivePeriod = 30,
    lastWill = { topic = "hc3/bridge/status", payload = "offline", retain = true },
  })
  self.client:addEventListener("connected", function(event) self:onConnected(event) end)
  self.client:addEventListener("closed", function(event) self:onClosed(event) end)
  self.client:addEventListener("message", function(event) self:onMessage(event) end)
  self.client:addEventListener("error", function(event) self:debug("MQTT ERROR", event.code, event.message) end)
end
function MqttBridge:onConnected(event)
  self:debug("connected, returnCode", event.returnCode)
  self.client:publish("hc3/bridge/status", "online", { retain = true })
  self.client:subscribe("hc3/device/+/value", { qos = mqtt.QoS.AT_LEAST_ONCE })
  self:poll()
end
function MqttBridge:poll()
  self.count = self.count + 1
  self.client:publish("hc3/device/" .. self.count .. "/value", tostring(self.count * 10), { qos = 1 })
  if self.count < 5 then
    setTimeout(function() self:poll() end, 50)
  end
end
function MqttBridge:onMessage(event)
  local id = event.topic:match("^hc3/device/(%d+)/value$")
  self.seen[#self.seen + 1] = id .. "=" .. event.payload
  if #self.seen == 5 then
    self:debug("values", table.concat(self.seen, ","))
    self.client:disconnect()
  end
end
function MqttBridge:onClosed() self:debug("closed") end
MqttBridge.new("mqtt://localhost"):onInit()
"#,
        &[&broker.port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "[DEBUG][QA]: connected, returnCode 0");
    assert_has_line(&out, "[DEBUG][QA]: values 1=10,2=20,3=30,4=40,5=50");
    assert_has_line(&out, "[DEBUG][QA]: closed");
    assert!(!out.stdout.contains("MQTT ERROR"), "{}", out.stdout);
}
