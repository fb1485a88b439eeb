//! Reads a peer controls the length of: a line (or delimited record) that never ends fails with
//! `line too long` at the line limit (1 MiB) while timers keep firing; `*a` against a peer that
//! never closes and an exact count of 2^40 bytes end with `read too large` instead of taking all
//! memory and aborting the process.

mod support;

use support::{GUARD, Running, TempDir, python_one_client_server};

/// Python body: sends `x` bytes without a newline, 16 KiB every 2 ms, until plua goes away.
const ENDLESS_LINE: &str = "\
import time\n\
try:\n\
\x20   while True:\n\
\x20       c.sendall(b'x' * 16384)\n\
\x20       time.sleep(0.002)\n\
except OSError:\n\
\x20   pass\n";

/// Python body: sends as fast as it can until plua goes away.
const FLOOD: &str = "\
try:\n\
\x20   chunk = b'y' * 262144\n\
\x20   while True:\n\
\x20       c.sendall(chunk)\n\
except OSError:\n\
\x20   pass\n";

fn run_against(peer_body: &str, script: &str) -> support::Output {
    let (peer, port) = python_one_client_server(peer_body);
    let dir = TempDir::new();
    dir.write("reader.lua", script);
    let out = Running::script_with_args(&dir, "reader.lua", &[&port.to_string()]).finish(GUARD);
    drop(peer);
    out
}

#[test]
fn an_endless_line_fails_with_line_too_long_while_timers_keep_firing() {
    let out = run_against(
        ENDLESS_LINE,
        r#"
local ticks = 0
local timer = setInterval(function() ticks = ticks + 1 end, 10)
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]), {timeout = 10})
assert(ok, id)
local ok, line, message = _PY.tcp_read_sync(id, "*l")
print("line", ok, line, message)
print("ticked", ticks >= 3)
local ok, record, message = _PY.tcp_read_until_sync(id, "\n", 2^40)
print("until", ok, record, message)
clearInterval(timer)
_PY.tcp_close_sync(id)
"#,
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "line\tfalse\tnil\tline too long",
        "ticked\ttrue",
        "until\tfalse\tnil\tline too long",
    ]);
}

#[test]
fn a_huge_count_reads_what_has_arrived_without_buffering_for_it() {
    // `tcp_read_sync(id, n)` reads what has arrived, up to n (the original's meaning), so a
    // count of 2^40 against a flooding peer returns a bounded piece instead of buffering.
    let out = run_against(
        FLOOD,
        r#"
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]), {timeout = 10})
assert(ok, id)
local ok, data = _PY.tcp_read_sync(id, 2^40)
print("count", ok, #data > 0 and #data <= 4 * 1024 * 1024)
print("next", (_PY.tcp_read_sync(id, 5)))
_PY.tcp_close_sync(id)
"#,
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["count\ttrue\ttrue", "next\ttrue"]);
}

#[test]
fn read_all_from_a_peer_that_never_closes_fails_with_read_too_large() {
    let out = run_against(
        FLOOD,
        r#"
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]), {timeout = 10})
assert(ok, id)
print("all", _PY.tcp_read_sync(id, "*a"))
local status = io.open("/proc/self/status"):read("a")
local rss = tonumber(status:match("VmRSS:%s*(%d+)"))
print("rss below 256 MiB", rss < 256 * 1024)
_PY.tcp_close_sync(id)
"#,
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["all\tfalse\tnil\tread too large", "rss below 256 MiB\ttrue"]);
}

#[test]
fn the_line_and_read_limits_are_options_of_a_connection_and_of_a_server() {
    // A client connection with small limits: a 100-byte line and `*a` of 101 bytes are too big.
    let out = run_against(
        "c.sendall(b'z' * 100 + b'\\n')\nimport time\ntime.sleep(3)\n",
        r#"
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]), {timeout = 10, max_line = 16, max_read = 64})
assert(ok, id)
print("count", _PY.tcp_read_sync(id, "*a"))
print("line", _PY.tcp_read_sync(id, "*l"))
_PY.tcp_close_sync(id)
print(pcall(_PY.tcp_connect_sync, "127.0.0.1", 1, {max_line = -1}))
"#,
    );
    out.assert_code(0).assert_no_panic();
    out.assert_stdout_contains("count\tfalse\tnil\tread too large");
    out.assert_stdout_contains("line\tfalse\tnil\tline too long");
    out.assert_stdout_contains("option 'max_line': a positive whole number of bytes expected");

    // A server's connections get the server's limits.
    let dir = TempDir::new();
    dir.write(
        "server.lua",
        r#"
local server = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(server, "client_connected", function(client)
  _PY.tcp_read(client, "*l", function(ok, line, message)
    print("server read", ok, line, message)
    _PY.tcp_server_close(server)
  end)
end)
local ok, message, port = _PY.tcp_server_start(server, "127.0.0.1", 0, {max_line = 8})
assert(ok, message)
local ok2, id = _PY.tcp_connect_sync("127.0.0.1", port)
_PY.tcp_write_sync(id, "a line longer than eight bytes\n")
"#,
    );
    let out = Running::script_with_args(&dir, "server.lua", &[]).finish(GUARD);
    out.assert_code(0).assert_no_panic();
    out.assert_stdout_contains("server read\tfalse\tnil\tline too long");
}
