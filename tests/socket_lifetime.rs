//! Process lifetime with sockets: an open connection or a listening server keeps plua alive;
//! closing it, the peer's EOF, or `_PY.unref(id)` lets the process exit by itself.

mod support;

use std::thread;
use std::time::Duration;

use support::{GUARD, Running, TempDir, python_one_client_server, run_script};

/// A Python peer that accepts one client, says hello, then waits for a line on its own stdin
/// before doing `then` (e.g. closing).
fn controlled_peer(then: &str) -> (Running, u16) {
    python_one_client_server(&format!(
        "c.sendall(b'hello\\n')\n\
         sys.stdin.readline()\n\
         {then}\n"
    ))
}

#[test]
fn an_open_connection_keeps_the_process_alive_until_the_peer_closes() {
    let (mut peer, port) = controlled_peer("pass");
    let dir = TempDir::new();
    dir.write(
        "client.lua",
        r#"
-- connect, read the greeting, then just keep the connection open (no timers, no reads)
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]), {timeout = 10})
print("greeting", _PY.tcp_read_sync(id, "*l"))
"#,
    );
    let mut client = Running::script_with_args(&dir, "client.lua", &[&port.to_string()]);
    client.wait_for_stdout("greeting");
    thread::sleep(Duration::from_millis(300));
    assert!(
        client.is_running(),
        "plua exited although its connection is open:\n{}",
        client.stderr_text()
    );
    peer.send_line("close"); // the peer closes: EOF lets plua exit by itself
    let out = client.finish(GUARD);
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["greeting\ttrue\thello\tReceived 5 bytes"]);
    peer.finish(GUARD).assert_code(0);
}

#[test]
fn closing_the_connection_lets_the_process_exit() {
    let (mut peer, port) = controlled_peer("c.sendall(b'please close\\n')\nrecv_exact(1)");
    let dir = TempDir::new();
    dir.write(
        "client.lua",
        r#"
_PY.tcp_connect("127.0.0.1", tonumber(arg[1]), function(ok, id)
  _PY.tcp_read_until(id, "\n", 100, function(ok, line)
    print("got", line)
    _PY.tcp_read_until(id, "\n", 100, function(ok, line)
      print("got", line)
      _PY.tcp_close(id)
    end)
  end)
end, {timeout = 10})
"#,
    );
    let mut client = Running::script_with_args(&dir, "client.lua", &[&port.to_string()]);
    client.wait_for_stdout("got");
    thread::sleep(Duration::from_millis(300));
    assert!(client.is_running(), "plua exited with a read pending");
    peer.send_line("go");
    let out = client.finish(GUARD);
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.lines().len(), 2, "{}", out.stdout);
    assert!(out.lines()[1].starts_with("got\tplease close"));
    peer.finish(GUARD).assert_code(0);
}

#[test]
fn a_listening_server_keeps_the_process_alive_unless_unref() {
    let dir = TempDir::new();
    dir.write(
        "server.lua",
        r#"
local srv = _PY.tcp_server_create()
local ok, msg, port = _PY.tcp_server_start(srv, "127.0.0.1", 0)
print("listening", ok)
if arg[1] == "unref" then _PY.unref(srv) end
"#,
    );
    let mut kept = Running::script_with_args(&dir, "server.lua", &[]);
    kept.wait_for_stdout("listening");
    thread::sleep(Duration::from_millis(300));
    assert!(
        kept.is_running(),
        "a listening server should keep plua alive"
    );
    kept.kill_and_collect().assert_no_panic();

    let out = Running::script_with_args(&dir, "server.lua", &["unref"]).finish(GUARD);
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["listening\ttrue"]);
}

#[test]
fn closing_everything_in_callbacks_ends_the_run() {
    // A server and a client in one process; once both are closed nothing is left.
    let out = run_script(
        r#"
local srv = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(srv, "data_received", function(id, data)
  _PY.tcp_write(id, data, function() _PY.tcp_close(id) end)
end)
local ok, msg, port = _PY.tcp_server_start(srv, "127.0.0.1", 0)
_PY.tcp_connect("127.0.0.1", port, function(ok, id)
  _PY.tcp_write(id, "bye")
  _PY.tcp_read(id, 10, function(ok, data)
    print("echo", data)
    _PY.tcp_server_close(srv)
  end)
end)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["echo\tbye"]);
}

#[test]
fn finished_reads_leave_no_timers_behind() {
    // A read with a timeout arms a network deadline; once the read is answered the deadline is
    // cancelled, and network deadlines never count as script timers anyway.
    let out = support::run_script(
        r#"
local srv = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(srv, "data_received", function(id, data) _PY.tcp_write(id, data) end)
local _, _, port = _PY.tcp_server_start(srv, "127.0.0.1", 0)
local ok, id = _PY.tcp_connect_sync("127.0.0.1", port, { timeout = 30 })
assert(ok, id)
for i = 1, 20 do
  assert(_PY.tcp_write_sync(id, "ping\n"))
  assert(_PY.tcp_read_sync(id, "*l"))
end
print("timeouts", _PY.has_active_timers(), "intervals", _PY.has_active_intervals())
_PY.tcp_close_sync(id)
_PY.tcp_server_close(srv)
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    assert!(
        out.stdout.contains("timeouts\tfalse\tintervals\tfalse"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}
