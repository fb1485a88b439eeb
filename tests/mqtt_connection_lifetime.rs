//! An MQTT connection's life against a real `mosquitto` broker (see mqtt_support): keep-alive
//! pings hold an idle connection open, a broker that goes away gives `closed`, and a thousand
//! connect/close cycles leave neither memory nor sockets behind.

mod mqtt_support;
mod support;

use std::io::{Read, Write};
use std::time::Duration;

use mqtt_support::{Broker, PRELUDE, run_mqtt, start_mqtt};
use support::*;

/// The bytes of an MQTT 3.1.1 CONNECT with keep-alive `keepalive` and client id "raw".
fn raw_connect_packet(keepalive: u8) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, keepalive];
    body.extend_from_slice(&[0, 3, b'r', b'a', b'w']);
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    packet
}

#[test]
fn keepalive_pings_keep_an_idle_connection_open_past_the_interval() {
    let Some(broker) = Broker::start() else {
        return;
    };
    // Control: a client that sends nothing after CONNECT (keep-alive 1 s) is dropped by the
    // broker after 1.5 s, so staying connected below is the pings' doing.
    let mut raw = raw_connect(broker.port);
    raw.write_all(&raw_connect_packet(1)).expect("send CONNECT");
    raw.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut connack = [0u8; 4];
    raw.read_exact(&mut connack).expect("CONNACK");
    assert_eq!(connack, [0x20, 2, 0, 0]);
    let mut rest = Vec::new();
    let closed = raw.read_to_end(&mut rest).is_ok();
    assert!(
        closed && rest.is_empty(),
        "the broker should drop a silent client"
    );

    let out = run_mqtt(
        r#"
local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT, { keepAlivePeriod = 1 })
watch(client)
client:addEventListener("connected", function()
  client:subscribe("idle/check")
  setTimeout(function()
    print("still connected " .. tostring(client:isConnected()))
    client:publish("idle/check", "alive", { qos = 1 })
  end, 4000)
end)
client:addEventListener("message", function(e) print("echo " .. e.payload) client:disconnect() end)
"#,
        &[&broker.port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "still connected true");
    assert_has_line(&out, "echo alive");
    assert_eq!(out.stdout.matches("closed").count(), 1, "{}", out.stdout);
}

#[test]
fn a_broker_that_goes_away_gives_a_closed_event() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let (_dir, mut plua) = start_mqtt(
        r#"
local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT)
watch(client)
client:addEventListener("connected", function() print("connected") end)
client:addEventListener("closed", function()
  print("connected after close: " .. tostring(client:isConnected()))
  print("publish after close: " .. tostring(client:publish("x", "y")))
end)
"#,
        &[&broker.port.to_string()],
    );
    plua.wait_for_stdout("connected");
    broker.kill();
    let out = plua.finish(GUARD);
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "closed connection closed by the broker");
    assert_has_line(&out, "connected after close: false");
    assert_has_line(&out, "publish after close: nil");
}

#[test]
fn a_thousand_connect_close_cycles_leak_neither_memory_nor_sockets() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let dir = TempDir::new();
    dir.write(
        "script.lua",
        &format!(
            "{PRELUDE}{}",
            r#"
local cycles = 0
local function cycle()
  local client = mqtt.Client.connect("mqtt://127.0.0.1:" .. PORT, { keepAlivePeriod = 5 })
  client:addEventListener("error", function(e) print("error " .. e.message) end)
  client:addEventListener("connected", function()
    client:subscribe("leak/check")
    client:publish("leak/check", "x", { qos = 1 })
  end)
  client:addEventListener("published", function() client:disconnect() end)
  client:addEventListener("closed", function()
    cycles = cycles + 1
    if cycles == 100 or cycles == 1000 then
      collectgarbage() collectgarbage()
      print("checkpoint " .. cycles) io.stdout:flush()
      io.read("l") -- the test measures while nothing is open
    end
    if cycles < 1000 then cycle() end
  end)
end
cycle()
"#
        ),
    );
    let mut plua = Running::script_with_args(&dir, "script.lua", &[&broker.port.to_string()]);
    let fds = |pid: u32| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    plua.wait_for_stdout("checkpoint 100");
    let (rss_100, fds_100) = (rss_kib(plua.pid()).unwrap_or(0), fds(plua.pid()));
    plua.send_line("");
    plua.wait_for_stdout("checkpoint 1000");
    let (rss_1000, fds_1000) = (rss_kib(plua.pid()).unwrap_or(0), fds(plua.pid()));
    plua.send_line("");
    let out = plua.finish(Duration::from_secs(60));
    out.assert_code(0).assert_no_panic();
    assert!(!out.stdout.contains("error"), "{}", out.stdout);
    println!(
        "RSS after 100 cycles {rss_100} KiB, after 1000 {rss_1000} KiB; fds {fds_100} -> {fds_1000}"
    );
    assert!(rss_100 > 0 && fds_100 > 0);
    assert_eq!(fds_1000, fds_100, "sockets left open");
    assert!(
        rss_1000 < rss_100 + 4096,
        "RSS grew from {rss_100} KiB to {rss_1000} KiB over 900 cycles"
    );
}
