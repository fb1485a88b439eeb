//! Waiting calls made where the coroutine cannot yield (inside a `table.sort` comparator, a
//! metamethod called from C) block in the poller: they sleep instead of spinning, and return the
//! documented `false, nil, "timeout"` when their time runs out.

mod support;

use support::{python_server, run_script};

/// A peer that accepts two connections and never sends a byte.
const SILENT_PEER: &str = "
import socket, sys, time
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen()
print(s.getsockname()[1], flush=True)
conns = [s.accept()[0] for _ in range(2)]
time.sleep(20)
";

#[test]
fn a_read_that_cannot_yield_sleeps_until_its_timeout_and_returns_true_empty_timeout() {
    let (_peer, port) = python_server(SILENT_PEER, &[]);
    // A second connect finishes while the read blocks: its result waits for the main loop
    // and must not turn the blocking wait into a busy one.
    let script = format!(
        "local ok, id = _PY.tcp_connect_sync('127.0.0.1', {port})\n\
         assert(ok, id)\n\
         _PY.tcp_set_timeout_sync(id, 1.5)\n\
         _PY.tcp_connect('127.0.0.1', {port}, function(ok) print('second connected', ok) end)\n\
         local cpu = os.clock()\n\
         local result\n\
         table.sort({{2, 1}}, function(a, b)\n\
           result = result or table.pack(_PY.tcp_read_sync(id, 10))\n\
           return a < b\n\
         end)\n\
         print('result', result.n, result[1], result[2], result[3])\n\
         print('cpu under 0.5 s', os.clock() - cpu < 0.5)\n\
         os.exit(0)\n"
    );
    let out = run_script(&script, &[]);
    out.assert_no_panic().assert_code(0);
    // A waiting read that times out gives the original's `true, ""`.
    out.assert_stdout_contains("result\t3\ttrue\t\ttimeout");
    out.assert_stdout_contains("cpu under 0.5 s\ttrue");
}

#[test]
fn an_http_request_that_cannot_yield_reports_its_timeout_as_an_error() {
    let (_peer, port) = python_server(SILENT_PEER, &[]);
    let script = format!(
        "local response\n\
         table.sort({{2, 1}}, function(a, b)\n\
           response = response or _PY.http_request_sync({{url = 'http://127.0.0.1:{port}/', timeout = 1}})\n\
           return a < b\n\
         end)\n\
         print('error', response.error, response.error_message)\n\
         os.exit(0)\n"
    );
    let out = run_script(&script, &[]);
    out.assert_no_panic()
        .assert_code(0)
        .assert_stdout_contains("timeout");
}
