//! Memory the HTTP server takes for large requests and responses is given back: per-connection
//! buffers shrink once drained (also while the connections stay open for keep-alive) and closed
//! connections drop theirs, and the freed memory goes back to the system. Measured as RSS of a
//! server before and after 200 exchanges of 1 MB bodies each way over 8 keep-alive connections,
//! and of a client after 200 uploads of 1 MB over its pooled connections.

mod support;

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use support::{raw_connect, read_http_response, rss_kib, start_http_server};

const CONNECTIONS: usize = 8;
const REQUESTS_PER_CONNECTION: usize = 25;
const BODY: usize = 1024 * 1024;

/// Sends `count` POSTs of a 1 MB body on `stream` and checks each 1 MB echo.
fn exchange_big_bodies(stream: &TcpStream, count: usize, fill: u8) {
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let body = vec![fill; BODY];
    for _ in 0..count {
        write!(
            writer,
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {BODY}\r\n\r\n"
        )
        .expect("send head");
        writer.write_all(&body).expect("send body");
        let response = read_http_response(&mut reader, false)
            .expect("read response")
            .expect("a response");
        assert_eq!(response.status, 200);
        assert_eq!(response.body.len(), BODY);
        assert!(response.body.iter().all(|&byte| byte == fill));
    }
}

/// RSS of the server once Lua collected its garbage (through `/gc`, on a connection of its
/// own) and the process settled: the least of a few samples.
fn settled_rss(pid: u32, port: u16) -> u64 {
    let stream = raw_connect(port);
    let mut writer = stream.try_clone().expect("clone stream");
    writer
        .write_all(b"GET /gc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send /gc");
    let response = read_http_response(&mut BufReader::new(stream), false)
        .expect("read /gc response")
        .expect("a /gc response");
    assert_eq!(response.body_text(), "collected");
    (0..5)
        .map(|_| {
            thread::sleep(Duration::from_millis(200));
            rss_kib(pid).expect("read VmRSS")
        })
        .min()
        .unwrap_or(u64::MAX)
}

#[test]
fn server_memory_comes_back_after_large_bodies_on_keep_alive_connections() {
    let (_dir, server, port) = start_http_server(
        r#"
local id, port = _PY.http_server_start("127.0.0.1", 0, function(req)
  if req.path == "/gc" then
    -- Lua's own garbage (the 1 MB strings) is not what this test measures.
    collectgarbage()
    collectgarbage()
    return 200, "collected"
  end
  return 200, req.body
end, {max_body_size = 2 * 1024 * 1024})
print("port=" .. port)
io.stdout:flush()
"#,
    );
    let pid = server.pid();
    // Warm up (code paths, first allocations) with one small exchange.
    let warm = raw_connect(port);
    exchange_big_bodies(&warm, 1, b'w');
    drop(warm);
    let before = settled_rss(pid, port);

    let streams: Vec<TcpStream> = (0..CONNECTIONS).map(|_| raw_connect(port)).collect();
    thread::scope(|scope| {
        for (n, stream) in streams.iter().enumerate() {
            scope.spawn(move || {
                exchange_big_bodies(stream, REQUESTS_PER_CONNECTION, b'a' + n as u8)
            });
        }
    });
    let peak = rss_kib(pid).expect("read VmRSS");
    // The connections stay open (idle keep-alive): their buffers must have shrunk.
    let idle = settled_rss(pid, port);
    drop(streams);
    let closed = settled_rss(pid, port);
    eprintln!("RSS KiB: before {before}, right after {peak}, idle {idle}, closed {closed}");
    // Measured (debug build): before the fix idle and closed stayed 21-25 MB over `before`
    // (buffers kept their 1 MB capacity and glibc kept freed memory); with it, within 1.2 MB.
    let bound = before + 4 * 1024;
    assert!(
        idle <= bound,
        "idle keep-alive connections hold {idle} KiB (before: {before})"
    );
    assert!(
        closed <= bound,
        "after closing, {closed} KiB (before: {before})"
    );
    server.kill_and_collect().assert_no_panic();
}

/// Python: a threaded HTTP/1.1 (keep-alive) server on 127.0.0.1:0 that prints its port and
/// answers every POST with the length of its body.
const PY_UPLOAD_SINK: &str = r#"
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_POST(self):
        n = len(self.rfile.read(int(self.headers["Content-Length"])))
        body = str(n).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

#[test]
fn client_pool_memory_comes_back_after_large_uploads() {
    let (_peer, port) = support::python_server(PY_UPLOAD_SINK, &[]);
    let out = support::run_named_script(
        "client.lua",
        r#"
local base = "http://127.0.0.1:" .. arg[1]
local function rss()
  collectgarbage()
  collectgarbage()
  local f = assert(io.open("/proc/self/status"))
  local kib = f:read("a"):match("VmRSS:%s*(%d+)")
  f:close()
  return tonumber(kib)
end
local big = string.rep("u", 1024 * 1024)
local chains, per_chain, running = 8, 25, 0
local before
local function chain(left)
  if left == 0 then
    running = running - 1
    if running == 0 then
      -- The pooled keep-alive connections are still open here.
      print("before", before)
      print("after", rss())
    end
    return
  end
  _PY.http_request_async({url = base .. "/up", method = "POST", body = big}, function(r)
    assert(r.code == 200 and r.body == tostring(#big), r.error_message)
    chain(left - 1)
  end)
end
_PY.http_request_async({url = base .. "/warm", method = "POST", body = "w"}, function(r)
  assert(r.code == 200, r.error_message)
  before = rss()
  for _ = 1, chains do
    running = running + 1
    chain(per_chain)
  end
end)
"#,
        &[],
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    let value = |name: &str| -> u64 {
        out.lines()
            .iter()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} line: {out:?}"))
    };
    let (before, after) = (value("before"), value("after"));
    eprintln!("client RSS KiB: before {before}, after {after}");
    // Measured (debug build): before the fix 20-22 MB more (each pooled connection kept its
    // last 1 MB request, and glibc the freed copies); with it, about 1.4 MB.
    assert!(
        after <= before + 4 * 1024,
        "after {after} KiB, before {before} KiB"
    );
}
