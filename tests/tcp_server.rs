//! `_PY` TCP servers: the event family (client_connected / data_received /
//! client_disconnected), queue mode (no data_received listener, data read with tcp_read), closing
//! a server with clients, and the blocking-style table family. Peers are plua itself and Python.

mod support;

use support::{GUARD, Running, TempDir, python, run_script};

/// Python client: connects to 127.0.0.1:argv[1], prints `local <port>`, then runs `body`
/// (socket `c`, 15 s timeout) and closes.
fn python_client(body: &str, port: &str) -> Running {
    let code = format!(
        "import socket, sys, time\n\
         c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=15)\n\
         print('local', c.getsockname()[1], flush=True)\n\
         {body}\n\
         c.close()\n"
    );
    python(&code, &[port])
}

fn start_server(src: &str) -> (TempDir, Running, String) {
    let dir = TempDir::new();
    dir.write("server.lua", src);
    let mut server = Running::script_with_args(&dir, "server.lua", &[]);
    let port = server.line_after("port=");
    (dir, server, port)
}

#[test]
fn plua_client_and_plua_server_in_one_process() {
    let out = run_script(
        r#"
local srv = _PY.tcp_server_create()
local events = {}
_PY.tcp_server_add_event_listener(srv, "client_connected", function(id, addr)
  events[#events + 1] = "connected"
end)
_PY.tcp_server_add_event_listener(srv, "data_received", function(id, data)
  _PY.tcp_write(id, data:upper())
end)
_PY.tcp_server_add_event_listener(srv, "client_disconnected", function(id, addr)
  events[#events + 1] = "disconnected"
  print(table.concat(events, ","))
  print("close server", _PY.tcp_server_close(srv))
end)
local ok, msg, port = _PY.tcp_server_start(srv, "127.0.0.1", 0)
print(ok, msg == "Listening on 127.0.0.1:" .. port, math.type(port), port > 0)
local ok, id, msg = _PY.tcp_connect_sync("127.0.0.1", port, {timeout = 10})
print(ok, msg == "Connected to 127.0.0.1:" .. port)
print(_PY.tcp_write_sync(id, "shout this\n"))
print(_PY.tcp_read_sync(id, "*l"))
print(_PY.tcp_close_sync(id))
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines.len(), 7, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(lines[0], "true\ttrue\tinteger\ttrue");
    assert_eq!(lines[1], "true\ttrue");
    assert_eq!(lines[2], "true\t11\tSent 11 bytes");
    assert_eq!(lines[3], "true\tSHOUT THIS\tReceived 10 bytes");
    assert!(lines[4].starts_with("true\tConnection "), "{lines:?}");
    assert_eq!(lines[5], "connected,disconnected");
    assert!(lines[6].starts_with("close server\ttrue"), "{lines:?}");
}

#[test]
fn events_arrive_in_order_with_ip_port_strings() {
    let (_dir, server, port) = start_server(
        r#"
local srv = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(srv, "client_connected", function(id, addr)
  print("connected", math.type(id), addr)
end)
_PY.tcp_server_add_event_listener(srv, "data_received", function(id, data)
  print("data", data)
  _PY.tcp_write(id, "ack:" .. data)
end)
_PY.tcp_server_add_event_listener(srv, "client_disconnected", function(id, addr)
  print("disconnected", math.type(id), addr)
  _PY.tcp_server_close(srv)
end)
local ok, msg, port = _PY.tcp_server_start(srv, "127.0.0.1", 0)
print("port=" .. port)
"#,
    );
    let client = python_client(
        "c.sendall(b'hello')\n\
         print('reply', c.recv(100).decode(), flush=True)\n",
        &port,
    )
    .finish(GUARD);
    client.assert_code(0);
    let local = client.lines()[0].strip_prefix("local ").unwrap().to_owned();
    assert_eq!(client.lines()[1], "reply ack:hello");
    let out = server.finish(GUARD);
    let addr = format!("127.0.0.1:{local}");
    out.assert_code(0).assert_no_panic().assert_lines(&[
        &format!("port={port}"),
        &format!("connected\tinteger\t{addr}"),
        "data\thello",
        &format!("disconnected\tinteger\t{addr}"),
    ]);
}

/// The hot path of socket events (`src/lua/raw_events.rs`) and of `tcp_write`
/// (`src/api/tcp_write.rs`): binary data arrives whole, a listener may wait, an error in one is
/// reported with its traceback and the next event still runs, and unusual `tcp_write` calls
/// still get the Lua version's checks and callbacks.
#[test]
fn data_listeners_get_binary_data_may_wait_and_fail_without_stopping_the_server() {
    let (_dir, server, port) = start_server(
        r#"
local srv = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(srv, "data_received", function(id, data)
  if data:find("boom", 1, true) then
    error("listener fails on " .. data)
  end
  if data == "wait" then
    _PY.sleep(0.05)
    _PY.tcp_write(id, "waited", function(ok, n) print("callback", ok, n) end)
    return
  end
  print("data", #data, data:byte(1, -1))
  _PY.tcp_write(id, data)
end)
_PY.tcp_server_add_event_listener(srv, "client_disconnected", function()
  print("bad write", pcall(_PY.tcp_write, "nope", "x"))
  print("number write", math.type(_PY.tcp_write(424242, 5)))
  _PY.tcp_server_close(srv)
end)
local ok, msg, port = _PY.tcp_server_start(srv, "127.0.0.1", 0)
print("port=" .. port)
"#,
    );
    let client = python_client(
        "c.sendall(b'a\\x00b\\xff')\n\
         print('echo', c.recv(100), flush=True)\n\
         c.sendall(b'boom')\n\
         time.sleep(0.2)\n\
         c.sendall(b'wait')\n\
         print('reply', c.recv(100), flush=True)\n",
        &port,
    )
    .finish(GUARD);
    client.assert_code(0);
    assert_eq!(client.lines()[1], "echo b'a\\x00b\\xff'");
    assert_eq!(client.lines()[2], "reply b'waited'");
    let out = server.finish(GUARD);
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert!(lines.contains(&"data\t4\t97\t0\t98\t255"), "{lines:?}");
    assert!(lines.contains(&"callback\ttrue\t6"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("bad write\tfalse\t")
                && line
                    .contains("tcp_write: bad argument #1 (connection id expected, got string)")),
        "{lines:?}"
    );
    assert!(lines.contains(&"number write\tinteger"), "{lines:?}");
    out.assert_stderr_contains("Error in data_received callback")
        .assert_stderr_contains("listener fails on boom")
        .assert_stderr_contains("stack traceback");
}

#[test]
fn without_a_data_listener_client_data_is_read_with_tcp_read() {
    let (_dir, server, port) = start_server(
        r#"
local srv = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(srv, "client_connected", function(id, addr)
  print("ready-to-read", _PY.tcp_read_sync(id, "*l"))
  _PY.tcp_read(id, 100, function(ok, data, msg)
    print("tcp_read", ok, data, msg)
    _PY.tcp_write(id, "thanks\n", function() _PY.tcp_server_close(srv) end)
  end)
end)
local ok, msg, port = _PY.tcp_server_start(srv, "127.0.0.1", 0)
print("port=" .. port)
"#,
    );
    let client = python_client(
        "c.sendall(b'first line\\n')\n\
         time.sleep(0.1)\n\
         c.sendall(b'queued data')\n\
         print('reply', c.recv(100), flush=True)\n",
        &port,
    )
    .finish(GUARD);
    client.assert_code(0);
    assert_eq!(client.lines()[1], "reply b'thanks\\n'");
    server
        .finish(GUARD)
        .assert_code(0)
        .assert_no_panic()
        .assert_lines(&[
            &format!("port={port}"),
            "ready-to-read\ttrue\tfirst line\tReceived 10 bytes",
            "tcp_read\ttrue\tqueued data\tReceived 11 bytes",
        ]);
}

#[test]
fn server_close_closes_its_clients() {
    let (_dir, server, port) = start_server(
        r#"
local srv = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(srv, "data_received", function(id, data)
  print("data", data)
  print("closing", _PY.tcp_server_close(srv))
  -- the client id is gone with the server
  _PY.tcp_write(id, "too late", function(ok, n, msg) print("write after close", ok, n, msg) end)
end)
local ok, msg, port = _PY.tcp_server_start(srv, "127.0.0.1", 0)
print("port=" .. port)
"#,
    );
    let client = python_client(
        "c.sendall(b'close us')\n\
         d = c.recv(100)\n\
         print('eof' if d == b'' else 'got %r' % d, flush=True)\n",
        &port,
    )
    .finish(GUARD);
    client.assert_code(0);
    assert_eq!(client.lines()[1], "eof", "{:?}", client.stdout);
    let out = server.finish(GUARD);
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines[1], "data\tclose us");
    assert!(lines[2].starts_with("closing\ttrue"), "{lines:?}");
    assert!(
        lines[3].starts_with("write after close\tfalse\tnil\t"),
        "{lines:?}"
    );
    // A server that could not start reports it instead of raising.
    let out = run_script(
        r#"
local srv = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(srv, "error", function(m) print("error event", type(m)) end)
local a = _PY.tcp_server_create()
local ok, msg, port = _PY.tcp_server_start(a, "127.0.0.1", 0)
print(_PY.tcp_server_start(srv, "127.0.0.1", port))
_PY.tcp_server_close(a)
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert!(lines[0].starts_with("false\t"), "{lines:?}");
    assert_eq!(lines[1], "error event\tstring");
}

#[test]
fn blocking_style_server_family_returns_tables() {
    // The client side runs in a timer coroutine ("C" lines) while the main chunk serves ("S"
    // lines); the two interleave freely, so each side's order is checked on its own.
    let out = run_script(
        r#"
local server, msg = _PY.tcp_server_create_sync("127.0.0.1", 0)
print("S server", math.type(server), type(msg))
local port = tonumber(msg:match(":(%d+)$"))
print("S port found", port ~= nil and port > 0)
local client_done = false
setTimeout(function()
  local c = _PY.tcp_connect_to_sync_server("127.0.0.1", port)
  print("C connect", c.success, math.type(c.client_id), c.message)
  local w = _PY.tcp_write_sync_client(c.client_id, "from client")
  print("C write", w.success, w.bytes_written, w.message)
  local r = _PY.tcp_read_sync_client(c.client_id, 100, 5)
  print("C read", r.success, r.data, r.message)
  print("C close", _PY.tcp_close_sync_client(c.client_id))
  client_done = true
end, 0)
local a = _PY.tcp_server_accept_sync(server, 5)
print("S accept", a.success, math.type(a.client_id), type(a.message))
local r = _PY.tcp_read_sync_client(a.client_id, 100, 5)
print("S read", r.success, r.data, r.message)
local w = _PY.tcp_write_sync_client(a.client_id, "from server")
print("S write", w.success, w.bytes_written)
local r2 = _PY.tcp_read_sync_client(a.client_id, 100, 5)
print("S after client close", r2.success, r2.data, r2.message, client_done)
-- plua already closed its side after the peer's EOF (README); closing again must not raise
print("S close client", type(_PY.tcp_close_sync_client(a.client_id)))
local t = _PY.tcp_server_accept_sync(server, 0.2)
print("S accept timeout", t.success, t.client_id, t.message)
print("S server close", _PY.tcp_server_close_sync(server))
local c = _PY.tcp_connect_to_sync_server("127.0.0.1", port)
print("S connect after close", c.success, c.client_id, type(c.message))
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let side = |p: &str| -> Vec<String> {
        out.lines()
            .iter()
            .filter_map(|l| l.strip_prefix(p).map(str::to_owned))
            .collect()
    };
    assert_eq!(
        side("C "),
        [
            "connect\ttrue\tinteger\tConnected to sync server",
            "write\ttrue\t11\tSuccess",
            "read\ttrue\tfrom server\tSuccess",
            "close\ttrue",
        ],
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        side("S "),
        [
            "server\tinteger\tstring",
            "port found\ttrue",
            "accept\ttrue\tinteger\tstring",
            "read\ttrue\tfrom client\tSuccess",
            "write\ttrue\t11",
            "after client close\tfalse\tnil\tclosed\ttrue",
            "close client\tboolean",
            "accept timeout\tfalse\tnil\tAccept timeout",
            "server close\ttrue",
            "connect after close\tfalse\tnil\tstring",
        ],
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn blocking_style_server_serves_a_python_client() {
    let (_dir, server, port) = start_server(
        r#"
local server, msg = _PY.tcp_server_create_sync("127.0.0.1", 0)
print("port=" .. msg:match(":(%d+)$"))
local a = _PY.tcp_server_accept_sync(server, 10)
print("accept", a.success)
local r = _PY.tcp_read_sync_client(a.client_id, 1024, 10)
print("read", r.success, r.data)
print("write", _PY.tcp_write_sync_client(a.client_id, "sync says hi").success)
_PY.tcp_close_sync_client(a.client_id)
_PY.tcp_server_close_sync(server)
"#,
    );
    let client = python_client(
        "c.sendall(b'python here')\n\
         data = b''\n\
         while True:\n\
         \x20   d = c.recv(100)\n\
         \x20   if not d: break\n\
         \x20   data += d\n\
         print('got', data.decode(), flush=True)\n",
        &port,
    )
    .finish(GUARD);
    client.assert_code(0);
    assert_eq!(client.lines()[1], "got sync says hi");
    server
        .finish(GUARD)
        .assert_code(0)
        .assert_no_panic()
        .assert_lines(&[
            &format!("port={port}"),
            "accept\ttrue",
            "read\ttrue\tpython here",
            "write\ttrue",
        ]);
}
