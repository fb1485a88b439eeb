//! Sockets under load and abuse: 1,000 concurrent clients, fd leaks over 10,000 connections,
//! bad arguments, unknown ids, and peers that flood a server that does not keep up.

mod support;

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use support::{GUARD, Running, TempDir, plua, python, rss_kib, run_named_script, run_script};

const ECHO_SERVER: &str = r#"
local srv = _PY.tcp_server_create()
local connected, disconnected = 0, 0
_PY.tcp_server_add_event_listener(srv, "client_connected", function() connected = connected + 1 end)
_PY.tcp_server_add_event_listener(srv, "data_received", function(id, data) _PY.tcp_write(id, data) end)
_PY.tcp_server_add_event_listener(srv, "client_disconnected", function()
  disconnected = disconnected + 1
  if disconnected == tonumber(os.getenv("PLUA_TEST_CLIENTS") or "-1") then
    print("served", connected, disconnected)
    _PY.tcp_server_close(srv)
  end
end)
local ok, msg, port = _PY.tcp_server_start(srv, "127.0.0.1", 0)
print("port=" .. port)
"#;

#[test]
fn a_thousand_concurrent_clients_on_a_plua_echo_server() {
    let dir = TempDir::new();
    dir.write("echo.lua", ECHO_SERVER);
    let mut cmd = Command::new("sh");
    cmd.current_dir(dir.path())
        .env("PLUA_TEST_CLIENTS", "1000")
        .arg("-c")
        .arg(
            "if [ \"$(ulimit -n)\" != unlimited ] && [ \"$(ulimit -n)\" -lt 4096 ]; then \
             ulimit -n 4096 2>/dev/null || ulimit -n \"$(ulimit -Hn)\"; fi; exec \"$0\" \"$@\"",
        )
        .arg(plua().get_program())
        .arg("echo.lua");
    let mut server = Running::start(cmd, true);
    let port = server.line_after("port=");
    // All 1000 connections are open at the same time before any of them sends.
    let client = python(
        r#"
import asyncio, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
if soft != resource.RLIM_INFINITY and soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
port = int(sys.argv[1])
N = 1000
async def main():
    async def open_one(i):
        for attempt in range(50):
            try:
                return await asyncio.open_connection('127.0.0.1', port)
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError('cannot connect')
    conns = await asyncio.wait_for(asyncio.gather(*(open_one(i) for i in range(N))), 20)
    print('open', len(conns), flush=True)
    async def talk(i, r, w):
        msg = b'client %d says hello\n' % i
        w.write(msg)
        await w.drain()
        line = await r.readline()
        w.close()
        return line == msg
    results = await asyncio.wait_for(asyncio.gather(*(talk(i, r, w) for i, (r, w) in enumerate(conns))), 20)
    print('ok', sum(results), flush=True)
asyncio.run(main())
"#,
        &[&port],
    )
    .finish(Duration::from_secs(30));
    client
        .assert_code(0)
        .assert_lines(&["open 1000", "ok 1000"]);
    server
        .finish(GUARD)
        .assert_code(0)
        .assert_no_panic()
        .assert_lines(&[&format!("port={port}"), "served\t1000\t1000"]);
}

#[test]
fn ten_thousand_connections_leak_no_file_descriptors() {
    let out = run_script(
        r#"
local srv = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(srv, "data_received", function(id, data) _PY.tcp_write(id, data) end)
local ok, msg, port = _PY.tcp_server_start(srv, "127.0.0.1", 0)
local function fds() return #_PY.list_files("/proc/self/fd") end
local function cycle(i)
  local ok, id, msg = _PY.tcp_connect_sync("127.0.0.1", port, {timeout = 10})
  assert(ok, msg)
  local payload = "cycle " .. i .. "\n"
  assert(_PY.tcp_write_sync(id, payload))
  local ok, line, msg = _PY.tcp_read_sync(id, "*l")
  assert(ok and line .. "\n" == payload, tostring(msg))
  assert(_PY.tcp_close_sync(id))
end
cycle(0)       -- warm-up: anything created lazily on first use (worker pool, ...)
_PY.sleep(0.1)
local before = fds()
for i = 1, 10000 do cycle(i) end
_PY.sleep(0.3) -- let the server side see the last EOFs
local after = fds()
print("before", before)
print("after", after)
print("leaked at most 2", after - before <= 2)
_PY.tcp_server_close(srv)
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    assert_eq!(
        out.lines().last().copied(),
        Some("leaked at most 2\ttrue"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn wrong_argument_types_raise_errors_naming_the_function() {
    let out = run_script(
        r#"
local function try(label, f, ...)
  local ok, err = pcall(f, ...)
  print(label, ok, (tostring(err):gsub("^[^:]*:%d+: ", "")))
end
try("write", _PY.tcp_write, "x", "data")
try("connect", _PY.tcp_connect, 123, "port")
try("connect-cb", _PY.tcp_connect, "127.0.0.1", 80, "not a function")
try("connect-range", _PY.tcp_connect, "127.0.0.1", 70000)
try("read-cb", _PY.tcp_read, 1, 10, 42)
try("read-pattern", _PY.tcp_read, 1, "*x")
try("until", _PY.tcp_read_until, 1, {}, 10)
try("close", _PY.tcp_close, "one")
try("timeout", _PY.tcp_set_timeout, 1, "soon")
try("udp", _PY.udp_write, {}, "x")
try("listener-event", _PY.tcp_server_add_event_listener, _PY.tcp_server_create(), "bogus", print)
try("listener-fn", _PY.tcp_server_add_event_listener, _PY.tcp_server_create(), "data_received", "nope")
try("start", _PY.tcp_server_start, "id", "127.0.0.1", 0)
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let expect = [
        ("write", "tcp_write: bad argument #1"),
        ("connect", "tcp_connect: bad argument #2"),
        ("connect-cb", "tcp_connect: bad argument #3"),
        ("connect-range", "tcp_connect: bad argument #2"),
        ("read-cb", "tcp_read: bad argument #3"),
        ("read-pattern", "tcp_read: bad argument #2"),
        ("until", "tcp_read_until: bad argument #2"),
        ("close", "tcp_close: bad argument #1"),
        ("timeout", "tcp_set_timeout: bad argument #2"),
        ("udp", "udp_write: bad argument #1"),
        (
            "listener-event",
            "tcp_server_add_event_listener: bad argument #2",
        ),
        (
            "listener-fn",
            "tcp_server_add_event_listener: bad argument #3",
        ),
        ("start", "tcp_server_start: bad argument #1"),
    ];
    let lines = out.lines();
    assert_eq!(lines.len(), expect.len(), "{}\n{}", out.stdout, out.stderr);
    for (line, (label, msg)) in lines.iter().zip(expect) {
        let prefix = format!("{label}\tfalse\t");
        assert!(
            line.starts_with(&prefix),
            "{line:?} should start with {prefix:?}"
        );
        assert!(line.contains(msg), "{line:?} should contain {msg:?}");
    }
}

#[test]
fn argument_errors_point_at_the_callers_line() {
    // Errors raised inside the library's argument checks (one or more functions deep, also
    // behind a `net` class method) must name the script's line, not a line of lua_stdlib/.
    let out = run_named_script(
        "caller.lua",
        r#"
print(select(2, pcall(function() _PY.tcp_write("x", "data") end)))
print(select(2, pcall(function() _PY.tcp_connect("127.0.0.1", 70000) end)))
print(select(2, pcall(function() _PY.tcp_read(1, 10, 42) end)))
print(select(2, pcall(function() _PY.udp_write({}, "x") end)))
print(select(2, pcall(function() require("net").TCPSocket():connect("127.0.0.1") end)))
"#,
        &[],
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines.len(), 5, "{}\n{}", out.stdout, out.stderr);
    for (index, line) in lines.iter().enumerate() {
        let position = format!("caller.lua:{}: ", index + 2);
        assert!(
            line.contains(&position),
            "{line:?} should name {position:?}"
        );
        assert!(line.contains("bad argument"), "{line:?}");
    }
}

#[test]
fn unknown_ids_and_use_after_close_are_reported_not_raised() {
    let out = run_script(
        r#"
local function show(label) return function(...) print(label, ...) end end
_PY.tcp_write(424242, "x", show("write"))
_PY.tcp_read(424242, 10, show("read"))
_PY.tcp_read_until(424242, "\n", 10, show("until"))
_PY.tcp_close(424242, show("close"))
print("sync", _PY.tcp_read_sync(424242, "*l"))
print("timeout", _PY.tcp_set_timeout(424242, 1))
_PY.sleep(0.05)
local srv = _PY.tcp_server_create()
local ok, msg, port = _PY.tcp_server_start(srv, "127.0.0.1", 0)
local ok, id = _PY.tcp_connect_sync("127.0.0.1", port, {timeout = 5})
_PY.tcp_close_sync(id)
_PY.tcp_write(id, "after close", show("after close"))
_PY.sleep(0.05)
_PY.tcp_server_close(srv)
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    // Callbacks and waiting forms all complete on later turns of the loop: compare as a set.
    let mut lines: Vec<&str> = out.lines();
    let mut early: Vec<&str> = lines.drain(..6.min(lines.len())).collect();
    early.sort();
    assert_eq!(
        early,
        [
            "close\tfalse\tunknown connection id 424242",
            "read\tfalse\tnil\tunknown connection id 424242",
            "sync\tfalse\tnil\tunknown connection id 424242",
            "timeout\tfalse\tunknown connection id 424242",
            "until\tfalse\tnil\tunknown connection id 424242",
            "write\tfalse\tnil\tunknown connection id 424242",
        ],
        "{}",
        out.stdout
    );
    assert_eq!(lines, ["after close\tfalse\tnil\tclosed"]);
}

/// Samples the RSS of `pid` every 20 ms while `peer` runs; returns (max KiB, peer output).
fn watch_rss(pid: u32, peer: &mut Running, limit: Duration) -> u64 {
    let start = Instant::now();
    let mut max = 0;
    while peer.is_running() {
        if let Some(kib) = rss_kib(pid) {
            max = max.max(kib);
        }
        assert!(
            start.elapsed() < limit,
            "python flooder did not finish within {limit:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
    max
}

/// Python: connects to argv[1] and sends up to 100 MB as fast as it can without reading; stops
/// early when the server has not taken anything for 2 s (it stopped reading). Prints the
/// number of bytes the kernel accepted.
const PY_FLOOD: &str = r#"
import socket, sys, time
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=15)
c.setblocking(False)
chunk = b'\xab' * (1 << 20)
sent, last = 0, time.monotonic()
while sent < 100 * 1000 * 1000 and time.monotonic() - last < 2:
    try:
        n = c.send(chunk)
        sent += n
        last = time.monotonic()
    except BlockingIOError:
        time.sleep(0.005)
print('sent', sent, flush=True)
"#;

#[test]
fn a_server_that_never_reads_stays_bounded_and_responsive_under_a_flood() {
    let dir = TempDir::new();
    dir.write(
        "sink.lua",
        r#"
local srv = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(srv, "client_connected", function(id, addr) print("client") end)
local ok, msg, port = _PY.tcp_server_start(srv, "127.0.0.1", 0)
print("port=" .. port)
local n = 0
setInterval(function() n = n + 1 print("tick " .. n) end, 20)
"#,
    );
    let mut server = Running::script_with_args(&dir, "sink.lua", &[]);
    let port = server.line_after("port=");
    let mut flood = python(PY_FLOOD, &[&port]);
    server.wait_for_stdout("client");
    let ticks_before = server.stdout_text().matches("tick ").count();
    let max_kib = watch_rss(server.pid(), &mut flood, Duration::from_secs(25));
    eprintln!("max plua RSS during the flood: {max_kib} KiB");
    let flood = flood.finish(GUARD);
    flood.assert_code(0);
    eprintln!("flooder: {}", flood.stdout.trim());
    // Still ticking after the flood: the loop was never stuck.
    server.wait_for_count("tick ", ticks_before + 3, false);
    assert!(server.is_running());
    let out = server.kill_and_collect();
    out.assert_no_panic();
    assert!(
        max_kib < 100 * 1024,
        "plua RSS reached {max_kib} KiB while a peer flooded a server that never reads ({})",
        flood.stdout.trim()
    );
}

#[test]
fn an_echo_server_facing_a_peer_that_never_reads_stays_bounded_and_serves_others() {
    let dir = TempDir::new();
    dir.write("echo.lua", ECHO_SERVER);
    let mut server = Running::script_with_args(&dir, "echo.lua", &[]);
    let port = server.line_after("port=");
    // The flooder stays connected (and never reads) while a second client is served.
    let code = format!(
        "{PY_FLOOD}\n\
         d = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)\n\
         d.sendall(b'second client\\n')\n\
         data = b''\n\
         while not data.endswith(b'\\n'):\n\
         \x20   x = d.recv(100)\n\
         \x20   if not x: break\n\
         \x20   data += x\n\
         print(data.decode().strip(), flush=True)\n\
         d.close()\n\
         c.close()\n"
    );
    let mut flood = python(&code, &[&port]);
    let max_kib = watch_rss(server.pid(), &mut flood, Duration::from_secs(25));
    eprintln!("max plua RSS during the flood: {max_kib} KiB");
    let flood = flood.finish(GUARD);
    flood.assert_code(0);
    eprintln!("flooder: {}", flood.stdout.trim());
    let lines = flood.lines();
    assert_eq!(lines.len(), 2, "{}\n{}", flood.stdout, flood.stderr);
    assert!(lines[0].starts_with("sent "), "{lines:?}");
    assert_eq!(lines[1], "second client");
    assert!(server.is_running());
    server.kill_and_collect().assert_no_panic();
    assert!(
        max_kib < 200 * 1024,
        "plua RSS reached {max_kib} KiB serving an echo to a peer that never reads ({})",
        flood.stdout.trim()
    );
}
