//! The original's sync TCP semantics: a count reads what has arrived (up to n), a 1 s default
//! wait, `true, ""` on a timeout, `false, nil, msg` for a bad pattern, `true` when closing a
//! connection the peer closed, "TCP connect error: ..." messages, the `net.tcp_*_direct`
//! names, and `tcp_server_read_sync` / `tcp_server_write_sync` on a server's clients (a
//! loopback port of the original's sync server example).

mod support;

use support::{GUARD, PY_TCP_ECHO, free_port, python_one_client_server, python_server, run_script};

#[test]
fn a_count_reads_what_has_arrived_up_to_n() {
    let (peer, port) = python_one_client_server(
        "c.sendall(b'abc')\n\
         assert recv_line() == b'go\\n'\n\
         c.sendall(b'0123456789XYZ')\n\
         recv_line()\n",
    );
    let out = run_script(
        r#"
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]))
assert(ok, id)
_PY.tcp_set_timeout_sync(id, 10)
print("first", _PY.tcp_read_sync(id, 10))
_PY.tcp_write_sync(id, "go\n")
local got = ""
while #got < 10 do
  local ok, piece = _PY.tcp_read_sync(id, 10 - #got)
  assert(ok and #piece <= 10 - #got)
  got = got .. piece
end
print("ten", got)
print("rest", _PY.tcp_read_sync(id, 100))
_PY.tcp_write_sync(id, "bye\n")
_PY.tcp_close_sync(id)
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "first\ttrue\tabc\tReceived 3 bytes",
        "ten\t0123456789",
        "rest\ttrue\tXYZ\tReceived 3 bytes",
    ]);
    peer.finish(GUARD).assert_code(0);
}

#[test]
fn a_sync_read_waits_one_second_by_default_and_a_timeout_gives_true_and_empty() {
    let (peer, port) = python_one_client_server(
        "c.sendall(b'par')\n\
         recv_line()\n",
    );
    let out = run_script(
        r#"
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]))
assert(ok, id)
local t0 = _PY.get_time()
local ok, line, msg = _PY.tcp_read_sync(id, "*l")
local waited = _PY.get_time() - t0
print("line", ok, "[" .. line .. "]", msg, waited > 0.8, waited < 5)
print("until", _PY.tcp_read_until_sync(id, "|"))
_PY.tcp_set_timeout_sync(id, 0)
print("non-blocking", _PY.tcp_read_sync(id, "*l"))
-- the partial line was kept for a later read
print("kept", _PY.tcp_read_sync(id, 10))
_PY.tcp_write_sync(id, "done\n")
_PY.tcp_close_sync(id)
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "line\ttrue\t[]\ttimeout\ttrue\ttrue",
        "until\ttrue\t\ttimeout",
        "non-blocking\ttrue\t\ttimeout",
        "kept\ttrue\tpar\tReceived 3 bytes",
    ]);
    peer.finish(GUARD).assert_code(0);
}

#[test]
fn an_invalid_pattern_returns_false_nil_and_a_message() {
    let (_peer, port) = python_server(PY_TCP_ECHO, &[]);
    let out = run_script(
        r#"
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]))
assert(ok, id)
print(_PY.tcp_read_sync(id, "*x"))
print(_PY.tcp_read_sync(id, {}))
_PY.tcp_close_sync(id)
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(
        lines[0],
        "false\tnil\tInvalid pattern: *x. Use '*a', '*l', or a number"
    );
    assert!(
        lines[1].starts_with("false\tnil\tInvalid pattern: table: "),
        "{lines:?}"
    );
}

#[test]
fn closing_a_connection_the_peer_already_closed_returns_true() {
    let (peer, port) = python_one_client_server("c.sendall(b'bye')\n");
    let out = run_script(
        r#"
local port = tonumber(arg[1])
local ok, id = _PY.tcp_connect_sync("127.0.0.1", port, { timeout = 10 })
assert(ok, id)
print("all", _PY.tcp_read_sync(id, "*a"))
print("again", _PY.tcp_read_sync(id, "*a"))
print("close", _PY.tcp_close_sync(id))
print("unknown", _PY.tcp_close_sync(424242))
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines[0], "all\ttrue\tbye\tReceived 3 bytes");
    assert_eq!(lines[1], "again\tfalse\tnil\tclosed");
    assert!(
        lines[2].starts_with("close\ttrue\tConnection "),
        "{lines:?}"
    );
    assert!(lines[3].starts_with("unknown\tfalse\t"), "{lines:?}");
    peer.finish(GUARD).assert_code(0);
}

#[test]
fn connect_errors_read_as_the_original() {
    let port = free_port();
    let out = run_script(
        r#"
local port = tonumber(arg[1])
local ok, id, msg = _PY.tcp_connect_sync("127.0.0.1", port)
print("sync", ok, id, msg:find("^TCP connect error: ") ~= nil, msg:lower():find("refused") ~= nil)
_PY.tcp_connect("127.0.0.1", port, function(ok, id, msg)
  print("async", ok, id, msg:find("^TCP connect error: ") ~= nil)
end)
"#,
        &[&port.to_string()],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["sync\tfalse\tnil\ttrue\ttrue", "async\tfalse\tnil\ttrue"]);
}

#[test]
fn net_direct_names_are_the_blocking_calls() {
    let (_peer, port) = python_server(PY_TCP_ECHO, &[]);
    let out = run_script(
        r#"
local net = require("net")
local ok, id = net.tcp_connect_direct("127.0.0.1", tonumber(arg[1]))
print("connect", ok, math.type(id))
print("write", net.tcp_write_direct(id, "ping\n"))
print("read", net.tcp_read_direct(id, "*l"))
print("close", (net.tcp_close_direct(id)))
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "connect\ttrue\tinteger",
        "write\ttrue\t5\tSent 5 bytes",
        "read\ttrue\tping\tReceived 4 bytes",
        "close\ttrue",
    ]);
}

#[test]
fn a_server_reads_and_writes_its_clients_with_the_sync_server_calls() {
    // As the original's sync server example: the server waits for the request, answers it,
    // and the client reads the answer.
    let out = run_script(
        r#"
local server = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(server, "client_connected", function(client, addr)
  local ok, data, msg = _PY.tcp_server_read_sync(client, 1024)
  print("server read", ok, data, msg == ("Received %d bytes from client %d"):format(#data, client))
  local ok, msg = _PY.tcp_server_write_sync(client, "pong:" .. data)
  print("server write", ok, msg == ("Sent %d bytes to client %d"):format(5 + #data, client))
  local ok, data, msg = _PY.tcp_server_read_sync(client)
  print("server read after close", ok, data, msg == ("Client %d disconnected"):format(client))
  _PY.tcp_server_close(server)
end)
local _, _, port = _PY.tcp_server_start(server, "127.0.0.1", 0)
print("ready", _PY.tcp_server_is_ready(server))
local ok, id = _PY.tcp_connect_sync("127.0.0.1", port, { timeout = 10 })
_PY.tcp_write_sync(id, "ping")
local answer = ""
while #answer < 9 do
  local ok, piece = _PY.tcp_read_sync(id, 9 - #answer)
  assert(ok, piece)
  answer = answer .. piece
end
print("client got", answer)
_PY.tcp_close_sync(id)
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "ready\ttrue",
        "server read\ttrue\tping\ttrue",
        "server write\ttrue\ttrue",
        "client got\tpong:ping",
        "server read after close\tfalse\tnil\ttrue",
    ]);
}
