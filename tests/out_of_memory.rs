//! Running out of memory is a Lua error ("not enough memory"), never an abort: under an
//! address-space limit the script's allocations are refused before the process's own, so
//! `pcall` catches the error, a callback reports it, and the process goes on.

mod support;

use std::process::Command;

use std::time::Duration;

use support::{Running, TempDir, plua, python, python_server, run};

/// The address-space limit the tests run plua under, in KiB.
const LIMIT_KIB: u32 = 400 * 1024;

/// Python lines that send 2 GiB down the socket `c` in 64 KiB chunks, far past `LIMIT_KIB`,
/// and stop quietly when plua closes it.
const FLOOD_C: &str = "
chunk = b'z' * 65536
try:
    for _ in range(32 * 1024):
        c.sendall(chunk)
except OSError:
    pass
";

/// `plua script` in `dir` under `ulimit -v LIMIT_KIB`.
fn under_address_limit(dir: &TempDir, script: &str) -> Command {
    let binary = plua().get_program().to_owned();
    let mut cmd = Command::new("sh");
    cmd.current_dir(dir.path())
        .arg("-c")
        .arg(format!("ulimit -v {LIMIT_KIB} && exec \"$0\" {script}"));
    cmd.arg(binary);
    cmd
}

#[test]
fn pcall_catches_not_enough_memory_and_the_script_goes_on() {
    let dir = TempDir::new();
    dir.write(
        "grow.lua",
        "local ok, err = pcall(function()\n\
           local t = {}\n\
           for i = 1, 1e9 do t[i] = {i} end\n\
         end)\n\
         print('caught', ok, err)\n\
         collectgarbage()\n\
         setTimeout(function() print('timer after the error') end, 10)\n",
    );
    let out = run(under_address_limit(&dir, "grow.lua"));
    out.assert_no_panic().assert_code(0);
    out.assert_lines(&["caught\tfalse\tnot enough memory", "timer after the error"]);
}

#[test]
fn a_callback_that_runs_out_of_memory_is_reported_and_the_next_timer_runs() {
    let dir = TempDir::new();
    dir.write(
        "cb.lua",
        "setTimeout(function() local t = {} for i = 1, 1e10 do t[i] = {} end end, 0)\n\
         setTimeout(function() print('alive') end, 50)\n",
    );
    let out = run(under_address_limit(&dir, "cb.lua"));
    out.assert_no_panic()
        .assert_code(0)
        .assert_stdout_contains("alive")
        .assert_stderr_contains("not enough memory");
}

#[test]
fn data_from_a_peer_that_fills_memory_is_an_error_in_the_callback_not_an_abort() {
    // The peer sends far more than the limit; the script keeps eight copies of every read.
    let (_peer, port) = python_server(
        &format!(
            "
import socket
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen()
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
{FLOOD_C}"
        ),
        &[],
    );
    let dir = TempDir::new();
    dir.write(
        "hoard.lua",
        &format!(
            "local kept = {{}}\n\
             local ok, id = _PY.tcp_connect_sync('127.0.0.1', {port})\n\
             local function more()\n\
               _PY.tcp_read(id, 65536, function(ok, data, message)\n\
                 if not ok then print('read ended', message) return end\n\
                 kept[#kept + 1] = string.rep(data, 8)\n\
                 more()\n\
               end)\n\
             end\n\
             more()\n\
             local reads, seen = 0, -1\n\
             setInterval(function()\n\
               reads = #kept\n\
               if reads == seen then\n\
                 kept = nil collectgarbage()\n\
                 print('alive after the flood')\n\
                 os.exit(0)\n\
               end\n\
               seen = reads\n\
             end, 1000)\n"
        ),
    );
    let out = run(under_address_limit(&dir, "hoard.lua"));
    out.assert_no_panic()
        .assert_code(0)
        .assert_stdout_contains("alive after the flood")
        .assert_stderr_contains("not enough memory");
}

#[test]
fn a_data_listener_that_fills_memory_is_an_error_in_the_callback_not_an_abort() {
    // The listener keeps eight copies of every chunk a client floods the server with: memory
    // runs out in the listener or while its chunk is made into a Lua string for it (the raw
    // event path, src/lua/raw_events.rs). Either is a reported callback error; then the
    // hoard is dropped and the process goes on to exit cleanly.
    let dir = TempDir::new();
    dir.write(
        "hoard_server.lua",
        "local kept = {}\n\
         local server = _PY.tcp_server_create()\n\
         _PY.tcp_server_add_event_listener(server, 'data_received', function(client, data)\n\
           if kept then kept[#kept + 1] = string.rep(data, 8) end\n\
         end)\n\
         local ok, message, port = _PY.tcp_server_start(server, '127.0.0.1', 0)\n\
         print('port=' .. port) io.stdout:flush()\n\
         local seen = -1\n\
         setInterval(function()\n\
           if kept and #kept > 0 and #kept == seen then\n\
             kept = nil collectgarbage()\n\
             print('alive after the flood') io.stdout:flush()\n\
             os.exit(0)\n\
           end\n\
           seen = kept and #kept or seen\n\
         end, 1000)\n",
    );
    let mut server = Running::start(under_address_limit(&dir, "hoard_server.lua"), false);
    let port = server.line_after("port=");
    let _flood = python(
        &format!(
            "
import socket, sys
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
{FLOOD_C}"
        ),
        &[&port],
    );
    let out = server.finish(Duration::from_secs(120));
    out.assert_no_panic()
        .assert_code(0)
        .assert_stdout_contains("alive after the flood")
        .assert_stderr_contains("Error in data_received callback")
        .assert_stderr_contains("not enough memory");
}
