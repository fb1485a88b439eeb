//! Servers and UDP sockets bound to (or connected to) a host name: the name is looked up on the
//! worker pool while the script's other work goes on (a timer set just before the bind runs
//! before the bind returns), `localhost` and literal IPs need no lookup, and a name that does
//! not resolve is a clear error through the return values and the error events, never a hang.

mod support;

use std::io::{Read, Write};

use support::{GUARD, PY_UDP_ECHO, Running, TempDir, curl, python, python_server, raw_connect};

/// A name other than `localhost` that `/etc/hosts` maps to 127.0.0.1 (so resolving it needs
/// getaddrinfo, but no network).
fn loopback_alias() -> String {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    hosts
        .lines()
        .filter_map(|line| line.split('#').next())
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|fields| fields.first() == Some(&"127.0.0.1"))
        .flat_map(|fields| {
            fields[1..]
                .iter()
                .map(|name| name.to_string())
                .collect::<Vec<_>>()
        })
        .find(|name| !name.eq_ignore_ascii_case("localhost") && !name.contains("localhost"))
        .expect("/etc/hosts maps some name other than localhost to 127.0.0.1")
}

/// Lua that binds with `bind` (an expression using `HOST`, giving `ok, port`) after setting a
/// zero timer, prints whether the timer had run by the time the bind returned, then the port.
fn bind_script(host: &str, setup: &str, bind: &str) -> String {
    format!(
        r#"
local HOST = "{host}"
{setup}
local timer_ran = false
setTimeout(function() timer_ran = true end, 0)
local ok, port = {bind}
print("bound", ok and true or false, "timer ran first: " .. tostring(timer_ran))
print("port=" .. tostring(port))
"#
    )
}

/// Starts `script` and returns the running process, its first line and the port it printed.
fn start(script: &str) -> (Running, String, u16) {
    let dir = TempDir::new();
    dir.write("bind.lua", script);
    let mut plua = Running::script(&dir, &[], "bind.lua");
    let port = plua.line_after("port=");
    let first = plua.stdout_text().lines().next().unwrap_or("").to_owned();
    let port = port.parse().unwrap_or_else(|_| {
        panic!(
            "no port: {port:?}\n{}\n{}",
            plua.stdout_text(),
            plua.stderr_text()
        )
    });
    (plua, first, port)
}

const TCP_SETUP: &str = r#"
local server = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(server, "client_connected", function(client)
  print("client connected")
  _PY.tcp_write(client, "hello\n")
end)
"#;
const TCP_BIND: &str =
    "(function() local ok, _, port = _PY.tcp_server_start(server, HOST, 0) return ok, port end)()";

fn check_tcp_server(host: &str, timer_first: bool) {
    let (plua, first, port) = start(&bind_script(host, TCP_SETUP, TCP_BIND));
    assert_eq!(
        first,
        format!("bound\ttrue\ttimer ran first: {timer_first}")
    );
    let mut stream = raw_connect(port);
    let mut greeting = [0u8; 6];
    stream.read_exact(&mut greeting).expect("greeting");
    assert_eq!(&greeting, b"hello\n");
    let mut plua = plua;
    plua.wait_for_stdout("client connected");
    plua.kill_and_collect();
}

#[test]
fn tcp_server_bound_to_a_host_name_serves_and_timers_run_during_the_lookup() {
    check_tcp_server(&loopback_alias(), true);
}

#[test]
fn tcp_server_bound_to_localhost_or_an_ip_binds_at_once() {
    check_tcp_server("localhost", false);
    check_tcp_server("127.0.0.1", false);
}

const HTTP_BIND: &str =
    r#"_PY.http_server_start(HOST, 0, function(req) return 200, "served " .. req.path end)"#;

fn check_http_server(host: &str, timer_first: bool) {
    let (plua, first, port) = start(&bind_script(host, "", HTTP_BIND));
    assert_eq!(
        first,
        format!("bound\ttrue\ttimer ran first: {timer_first}")
    );
    let out = curl(&["-s", &format!("http://127.0.0.1:{port}/x")]);
    assert_eq!(out.stdout, "served /x");
    plua.kill_and_collect();
}

#[test]
fn http_server_bound_to_a_host_name_serves_and_timers_run_during_the_lookup() {
    check_http_server(&loopback_alias(), true);
}

#[test]
fn http_server_bound_to_localhost_binds_at_once() {
    check_http_server("localhost", false);
}

const WS_SETUP: &str = r#"
local server = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(server, "client_connected", function(client)
  print("ws client connected")
end)
"#;
const WS_BIND: &str = "_PY.websocket_server_start(server, HOST, 0)";

fn check_ws_server(host: &str, timer_first: bool) {
    let (plua, first, port) = start(&bind_script(host, WS_SETUP, WS_BIND));
    assert_eq!(
        first,
        format!("bound\ttrue\ttimer ran first: {timer_first}")
    );
    let mut stream = raw_connect(port);
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .expect("send upgrade");
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).expect("upgrade answer");
    assert_eq!(&head, b"HTTP/1.1 101");
    let mut plua = plua;
    plua.wait_for_stdout("ws client connected");
    plua.kill_and_collect();
}

#[test]
fn websocket_server_bound_to_a_host_name_upgrades_and_timers_run_during_the_lookup() {
    check_ws_server(&loopback_alias(), true);
}

#[test]
fn websocket_server_bound_to_localhost_binds_at_once() {
    check_ws_server("localhost", false);
}

const UDP_BIND_SETUP: &str = r#"
local function receive(id)
  _PY.udp_read(id, 100, function(ok, data) print("datagram", data) end)
end
"#;
const UDP_BIND: &str =
    "(function() local id, port = _PY.udp_bind(HOST, 0) receive(id) return id, port end)()";

fn check_udp_bind(host: &str, timer_first: bool) {
    let (mut plua, first, port) = start(&bind_script(host, UDP_BIND_SETUP, UDP_BIND));
    assert_eq!(
        first,
        format!("bound\ttrue\ttimer ran first: {timer_first}")
    );
    let sender = python(
        "import socket, sys\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.sendto(b'to a name', ('127.0.0.1', int(sys.argv[1])))\n",
        &[&port.to_string()],
    );
    sender.finish(GUARD).assert_code(0);
    plua.wait_for_stdout("datagram\tto a name");
    plua.kill_and_collect();
}

#[test]
fn udp_bind_to_a_host_name_receives_and_timers_run_during_the_lookup() {
    check_udp_bind(&loopback_alias(), true);
}

#[test]
fn udp_bind_to_localhost_binds_at_once() {
    check_udp_bind("localhost", false);
}

fn check_udp_connect(host: &str, timer_first: bool) {
    let (peer, peer_port) = python_server(PY_UDP_ECHO, &[]);
    let connect = format!(
        "(function() local id = _PY.udp_connect(HOST, {peer_port}) \
         _PY.udp_write(id, 'ping', function() _PY.udp_read(id, 100, function(ok, d) print('reply', d) end) end) \
         return id, 0 end)()"
    );
    let (mut plua, first, _) = start(&bind_script(host, "", &connect));
    assert_eq!(
        first,
        format!("bound\ttrue\ttimer ran first: {timer_first}")
    );
    plua.wait_for_stdout("reply\techo:ping");
    plua.kill_and_collect();
    drop(peer);
}

#[test]
fn udp_connect_to_a_host_name_talks_to_the_peer_and_timers_run_during_the_lookup() {
    check_udp_connect(&loopback_alias(), true);
}

#[test]
fn udp_connect_to_localhost_connects_at_once() {
    check_udp_connect("localhost", false);
}

#[test]
fn binding_to_a_name_that_does_not_resolve_is_a_clear_error_not_a_hang() {
    let dir = TempDir::new();
    dir.write(
        "unresolvable.lua",
        r#"
local HOST = "no-such-host.invalid"
local tcp = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(tcp, "error", function(m) print("tcp error event", m) end)
print("tcp", _PY.tcp_server_start(tcp, HOST, 0))
print("tcp sync", _PY.tcp_server_create_sync(HOST, 0))
print("http", _PY.http_server_start(HOST, 0, function() end))
local ws = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(ws, "error", function(m) print("ws error event", m) end)
print("ws", _PY.websocket_server_start(ws, HOST, 0))
print("udp bind", _PY.udp_bind(HOST, 0, function(...) print("udp bind cb", ...) end))
print("udp connect", _PY.udp_connect(HOST, 9, function(...) print("udp connect cb", ...) end))
local net = require("net")
print("net server", net.TCPServer():start(HOST, 0, function() end))
"#,
    );
    let out = Running::script(&dir, &[], "unresolvable.lua").finish(GUARD);
    out.assert_code(0).assert_no_panic();
    let why = "cannot resolve host 'no-such-host.invalid'";
    for expected in [
        format!("tcp\tfalse\t{why}"),
        format!("tcp error event\t{why}"),
        format!("tcp sync\tnil\t{why}"),
        format!("http\tnil\t{why}"),
        format!("ws\tfalse\t{why}"),
        format!("ws error event\t{why}"),
        format!("udp bind\tnil\t{why}"),
        format!("udp bind cb\tfalse\tnil\t{why}"),
        format!("udp connect\tnil\t{why}"),
        format!("udp connect cb\tfalse\tnil\t{why}"),
        format!("net server\tfalse\t{why}"),
    ] {
        assert!(
            out.lines().iter().any(|line| line.starts_with(&expected)),
            "missing {expected:?} in\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
}
