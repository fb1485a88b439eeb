//! Graceful shutdown on SIGTERM/SIGINT: listeners close, an HTTP response still being prepared
//! (its handler sleeping) is sent in full, open WebSocket clients get a 1001 close, output and
//! files are flushed, and the process exits 143 (130 for SIGINT). A script writing a file in a
//! loop — busy, or from a timer — loses no line it wrote before the signal, and no line is torn.

mod support;

use std::io::{BufReader, Write};
use std::time::Duration;

use support::{
    GUARD, Running, TempDir, python_ws, raw_connect, read_http_response, start_http_server,
};

/// A server whose handler announces `handling`, then sleeps `seconds` before it answers.
fn sleepy_server(seconds: &str) -> (TempDir, Running, u16) {
    start_http_server(&format!(
        r#"
local id, port = _PY.http_server_start("127.0.0.1", 0, function(req)
  print("handling " .. req.path) io.stdout:flush()
  _PY.sleep({seconds})
  return 200, "finished " .. req.path
end)
print("port=" .. port) io.stdout:flush()
"#
    ))
}

fn in_flight_response_survives(signal: &str, code: i32) {
    let (_dir, mut server, port) = sleepy_server("0.8");
    let mut stream = raw_connect(port);
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    server.wait_for_stdout("handling /slow");
    server.signal(signal);
    let mut reader = BufReader::new(stream);
    let response = read_http_response(&mut reader, false)
        .expect("read the response")
        .expect("a response, not a closed connection");
    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "finished /slow");
    assert_eq!(response.header("connection"), Some("close"));
    let out = server.finish(GUARD);
    out.assert_code(code).assert_no_panic();
}

#[test]
fn sigterm_while_a_handler_sleeps_sends_its_full_response_then_exits_143() {
    in_flight_response_survives("TERM", 143);
}

#[test]
fn sigint_drains_the_same_way_and_exits_130() {
    in_flight_response_survives("INT", 130);
}

#[test]
fn with_nothing_in_flight_sigterm_ends_the_server_at_once() {
    let (_dir, server, _port) = sleepy_server("0.8");
    server.signal("TERM");
    let started = std::time::Instant::now();
    let out = server.finish(GUARD);
    out.assert_code(143).assert_no_panic();
    // Not the 2 s drain limit: nothing was owed.
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
}

const WS_CLIENT: &str = r#"
import asyncio, sys, websockets
async def main():
    ws = await websockets.connect("ws://127.0.0.1:%s/" % sys.argv[1], ping_interval=None)
    print("connected", flush=True)
    try:
        while True:
            await ws.recv()
    except websockets.exceptions.ConnectionClosed:
        pass
    print("closed", ws.close_code, ws.close_reason, flush=True)
asyncio.run(asyncio.wait_for(main(), 15))
"#;

#[test]
fn sigterm_sends_websocket_clients_a_1001_close() {
    let (_dir, mut server, port) = start_http_server(
        r#"
local ws = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(ws, "client_connected", function(client)
  print("client connected") io.stdout:flush()
end)
_PY.websocket_server_add_event_listener(ws, "client_disconnected", function(client, code)
  print("client disconnected " .. code) io.stdout:flush()
end)
local _, port = _PY.websocket_server_start(ws, "127.0.0.1", 0)
print("port=" .. port) io.stdout:flush()
"#,
    );
    let mut client = python_ws(WS_CLIENT, &[&port.to_string()]);
    client.wait_for_stdout("connected");
    server.wait_for_stdout("client connected");
    server.signal("TERM");
    let py = client.finish(GUARD);
    py.assert_code(0);
    py.assert_stdout_contains("closed 1001 server shutting down");
    let out = server.finish(GUARD);
    out.assert_code(143).assert_no_panic();
    // Its close handshake finished, and the script heard of it, before the exit.
    out.assert_stdout_contains("client disconnected 1001");
}

/// Checks `text` is `line 1 ...` to `line N ...`, every line whole; returns N.
fn whole_lines(text: &str) -> usize {
    assert!(
        text.ends_with('\n'),
        "torn last line: {:?}",
        text.lines().last()
    );
    let mut count = 0;
    for (index, line) in text.lines().enumerate() {
        let expected = format!("line {} {}", index + 1, "x".repeat(50));
        assert_eq!(line, expected, "line {}", index + 1);
        count += 1;
    }
    count
}

/// Runs `script` (it prints `written N` as it goes), sends SIGTERM after `written` appeared,
/// and returns the file's line count and the last count the script reported.
fn writer_stopped_by_sigterm(script: &str) -> (usize, usize) {
    let dir = TempDir::new();
    dir.write("writer.lua", script);
    let mut writer = Running::script(&dir, &[], "writer.lua");
    writer.wait_for_count("written", 3, false);
    writer.signal("TERM");
    let out = writer.finish(GUARD);
    out.assert_code(143).assert_no_panic();
    let reported = out
        .lines()
        .iter()
        .filter_map(|line| line.strip_prefix("written "))
        .filter_map(|n| n.trim().parse::<usize>().ok())
        .max()
        .expect("a count");
    let text = std::fs::read_to_string(dir.path().join("out.txt")).expect("the file");
    (whole_lines(&text), reported)
}

#[test]
fn a_busy_file_writer_loses_nothing_it_wrote_before_sigterm() {
    let (lines, reported) = writer_stopped_by_sigterm(
        r#"
local f = assert(io.open("out.txt", "w"))
local pad = string.rep("x", 50)
local n = 0
while true do
  n = n + 1
  f:write("line ", n, " ", pad, "\n")
  if n % 20000 == 0 then print("written " .. n) io.stdout:flush() end
end
"#,
    );
    assert!(lines >= reported, "{lines} lines, {reported} reported");
}

#[test]
fn a_file_writer_on_a_timer_loses_nothing_it_wrote_before_sigterm() {
    let (lines, reported) = writer_stopped_by_sigterm(
        r#"
local f = assert(io.open("out.txt", "w"))
local pad = string.rep("x", 50)
local n = 0
setInterval(function()
  for _ = 1, 100 do
    n = n + 1
    f:write("line ", n, " ", pad, "\n")
  end
  if n % 1000 == 0 then print("written " .. n) io.stdout:flush() end
end, 1)
"#,
    );
    assert!(lines >= reported, "{lines} lines, {reported} reported");
}
