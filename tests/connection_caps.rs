//! Connection caps refusing politely: a server's own cap (`max_connections` of an HTTP, TCP or
//! WebSocket server) and the process-wide one (`--max-connections`, or `max_connections` in
//! `.plua.lua`). Past a cap with nothing idle to close, an HTTP client gets `503` with
//! `Retry-After` (read in full, no reset), a TCP client is closed at once, a WebSocket
//! handshake gets 503 — and the script's servers keep serving the others, and new clients as
//! soon as there is room. Peers: raw sockets, curl, Python `websockets`.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{
    GUARD, Running, TempDir, curl, parse_curl_i, python_ws, raw_connect, read_http_response,
    read_until_closed,
};

/// An HTTP server (`/hold` answers after 3 s, announced by `holding`), a TCP echo server that
/// greets with `hello`, and a WebSocket echo server, with the given option tables; prints
/// `ports=HTTP TCP WS`.
fn servers_script(http_opts: &str, tcp_opts: &str, ws_opts: &str) -> String {
    format!(
        r#"
local function handler(req)
  if req.path == "/hold" then
    print("holding") io.stdout:flush()
    _PY.sleep(3)
  end
  return 200, "ok " .. req.path
end
local _, hport = _PY.http_server_start("127.0.0.1", 0, handler, {{{http_opts}}})
local tcp = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(tcp, "client_connected", function(id)
  _PY.tcp_write(id, "hello\n")
end)
_PY.tcp_server_add_event_listener(tcp, "data_received", function(id, data)
  _PY.tcp_write(id, data)
end)
local _, _, tport = _PY.tcp_server_start(tcp, "127.0.0.1", 0, {{{tcp_opts}}})
local ws = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(ws, "message", function(client, data)
  _PY.websocket_server_send(ws, client, data)
end)
local _, wport = _PY.websocket_server_start(ws, "127.0.0.1", 0, {{{ws_opts}}})
print("ports=" .. hport .. " " .. tport .. " " .. wport)
io.stdout:flush()
"#
    )
}

struct Servers {
    _dir: TempDir,
    process: Running,
    http: u16,
    tcp: u16,
    ws: u16,
}

fn start(opts: &[&str], config: Option<&str>, script: &str) -> Servers {
    let dir = TempDir::new();
    dir.write("servers.lua", script);
    if let Some(config) = config {
        dir.write(".plua.lua", config);
    }
    let mut args: Vec<&str> = opts.to_vec();
    args.push("servers.lua");
    let mut cmd = support::plua();
    cmd.current_dir(dir.path())
        .env("HOME", dir.path())
        .args(&args);
    let mut process = Running::start(cmd, false);
    let ports = process.line_after("ports=");
    let ports: Vec<u16> = ports
        .split_whitespace()
        .map(|p| p.parse().expect("a port"))
        .collect();
    assert_eq!(ports.len(), 3, "{ports:?}");
    Servers {
        _dir: dir,
        process,
        http: ports[0],
        tcp: ports[1],
        ws: ports[2],
    }
}

/// A connection whose `/hold` request is being handled (the handler printed `holding`).
fn busy_http(servers: &mut Servers, count: usize) -> Vec<TcpStream> {
    let streams: Vec<TcpStream> = (0..count)
        .map(|_| {
            let mut stream = raw_connect(servers.http);
            stream
                .write_all(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
                .expect("send /hold");
            stream
        })
        .collect();
    servers.process.wait_for_count("holding", count, false);
    streams
}

/// A TCP client that got its `hello`.
fn tcp_client(port: u16) -> BufReader<TcpStream> {
    let stream = raw_connect(port);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("read greeting");
    assert_eq!(line, "hello\n");
    reader
}

/// Echo check on a TCP client.
fn tcp_echo(client: &mut BufReader<TcpStream>, text: &str) {
    client
        .get_mut()
        .write_all(format!("{text}\n").as_bytes())
        .expect("send");
    let mut line = String::new();
    client.read_line(&mut line).expect("read echo");
    assert_eq!(line, format!("{text}\n"));
}

/// True if a new TCP client of `port` is closed without a byte (refused at once).
fn tcp_refused(port: u16) -> bool {
    let mut stream = raw_connect(port);
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let (data, closed) = read_until_closed(&mut stream);
    data.is_empty() && closed
}

/// A 503 as curl sees it (curl sends its request at once: the refusal must not reset it).
fn assert_curl_503(port: u16) {
    let out = curl(&["-s", "-S", "-i", &format!("http://127.0.0.1:{port}/extra")]);
    out.assert_code(0);
    let response = parse_curl_i(out.stdout.as_bytes());
    assert_eq!(response.status, 503, "{}", out.stdout);
    assert_eq!(response.header("retry-after"), Some("1"), "{}", out.stdout);
    assert_eq!(response.body_text(), "server busy\n");
}

fn assert_http_ok(port: u16, path: &str) {
    let out = curl(&["-s", "-S", &format!("http://127.0.0.1:{port}{path}")]);
    out.assert_code(0);
    assert_eq!(out.stdout, format!("ok {path}"));
}

/// Reads the answers the busy connections were owed.
fn finish_busy(streams: Vec<TcpStream>) {
    for stream in streams {
        let mut reader = BufReader::new(stream);
        let response = read_http_response(&mut reader, false)
            .expect("read")
            .expect("a response");
        assert_eq!(response.body_text(), "ok /hold");
    }
}

#[test]
fn an_http_server_at_its_cap_answers_503_with_retry_after_and_keeps_serving() {
    let mut servers = start(&[], None, &servers_script("max_connections = 2", "", ""));
    let busy = busy_http(&mut servers, 2);
    for _ in 0..5 {
        assert_curl_503(servers.http);
    }
    // The other servers are not affected by this server's cap.
    tcp_echo(&mut tcp_client(servers.tcp), "tcp still served");
    finish_busy(busy);
    assert_http_ok(servers.http, "/after");
    servers.process.kill_and_collect().assert_no_panic();
}

#[test]
fn a_tcp_server_at_its_cap_closes_a_new_client_at_once_and_serves_the_others() {
    let servers = start(&[], None, &servers_script("", "max_connections = 2", ""));
    let mut first = tcp_client(servers.tcp);
    let mut second = tcp_client(servers.tcp);
    for _ in 0..3 {
        assert!(tcp_refused(servers.tcp), "a third client was let in");
    }
    tcp_echo(&mut first, "first still served");
    tcp_echo(&mut second, "second still served");
    drop(first);
    // Room again once the first one left (its close reaches the server asynchronously).
    let mut third = None;
    for _ in 0..50 {
        let mut stream = raw_connect(servers.tcp);
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut greeting = [0u8; 6];
        if stream.read_exact(&mut greeting).is_ok() {
            assert_eq!(&greeting, b"hello\n");
            third = Some(BufReader::new(stream));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tcp_echo(&mut third.expect("a new client got in"), "third served");
    servers.process.kill_and_collect().assert_no_panic();
}

#[test]
fn the_total_cap_spans_every_server_and_refuses_politely_at_each() {
    let mut servers = start(
        &["--max-connections", "3"],
        None,
        &servers_script("", "", ""),
    );
    let busy = busy_http(&mut servers, 2);
    let mut tcp = tcp_client(servers.tcp);
    // Three open: each server refuses in its own way, though none is at its own cap.
    assert!(tcp_refused(servers.tcp));
    assert_curl_503(servers.http);
    tcp_echo(&mut tcp, "still served");
    finish_busy(busy);
    // The two HTTP connections are now idle keep-alive ones: a newcomer closes the idlest.
    assert_http_ok(servers.http, "/room");
    tcp_echo(&mut tcp_client(servers.tcp), "a new tcp client");
    let out = servers.process.kill_and_collect();
    out.assert_no_panic();
}

#[test]
fn the_total_cap_can_come_from_the_config_file() {
    let servers = start(
        &[],
        Some("{ max_connections = 2 }"),
        &servers_script("", "", ""),
    );
    let mut first = tcp_client(servers.tcp);
    let _second = tcp_client(servers.tcp);
    assert!(tcp_refused(servers.tcp));
    tcp_echo(&mut first, "served");
    servers.process.kill_and_collect().assert_no_panic();
}

#[test]
fn a_bad_cap_on_the_command_line_is_a_usage_error() {
    let mut cmd = support::plua();
    cmd.args(["--max-connections", "0", "-e", ""]);
    let out = support::run(cmd);
    out.assert_code(2);
    out.assert_stderr_contains("--max-connections");
}

/// Python client: two websockets stay connected; a third is refused with 503; the two still
/// echo; one leaves and a new one gets in.
const WS_CAP_CLIENT: &str = r#"
import asyncio, sys, websockets
url = "ws://127.0.0.1:%s/" % sys.argv[1]
async def main():
    a = await websockets.connect(url, ping_interval=None)
    b = await websockets.connect(url, ping_interval=None)
    try:
        await websockets.connect(url, ping_interval=None)
        print("third: connected")
    except websockets.exceptions.InvalidStatusCode as e:
        print("third: refused", e.status_code, e.headers.get("Retry-After"))
    for ws, text in ((a, "a"), (b, "b")):
        await ws.send(text)
        print("echo", await ws.recv())
    await a.close()
    for _ in range(50):
        try:
            c = await websockets.connect(url, ping_interval=None)
            break
        except websockets.exceptions.InvalidStatusCode:
            await asyncio.sleep(0.05)
    await c.send("c")
    print("echo", await c.recv())
    await b.close()
    await c.close()
asyncio.run(asyncio.wait_for(main(), 15))
"#;

#[test]
fn a_websocket_server_at_its_cap_refuses_the_handshake_with_503() {
    let servers = start(&[], None, &servers_script("", "", "max_connections = 2"));
    let py = python_ws(WS_CAP_CLIENT, &[&servers.ws.to_string()]).finish(GUARD);
    py.assert_code(0);
    py.assert_lines(&["third: refused 503 1", "echo a", "echo b", "echo c"]);
    servers.process.kill_and_collect().assert_no_panic();
}
