//! The streaming HTTP client against a real Python server: a `chunk` callback receives a
//! chunked body piece by piece while the response is still open (the server waits for the
//! client to acknowledge the first piece before it sends the rest), `stream = true` hands the
//! pieces to the callback, `net.HTTPClient` takes a `chunk` callback, and `_PY.http_download`
//! writes 200 MB to disk with flat RSS, reports progress, and leaves nothing behind on failure.

mod support;

use std::time::Duration;

use support::{Running, TempDir, peak_rss_kib, python_server};

/// A threading Python server: `/events` sends one chunk, waits until `/ack` is requested, then
/// sends four more and ends; `/big/N` sends N MiB with a Content-Length; anything else is 404.
const PY_SERVER: &str = r#"
import http.server, threading, sys
acked = threading.Event()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data)); self.wfile.flush()
    def do_GET(self):
        if self.path == "/events":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.chunk(b"data: first\n\n")
            acked.wait(15)
            for i in range(2, 6):
                self.chunk(b"data: %d\n\n" % i)
            self.wfile.write(b"0\r\n\r\n"); self.wfile.flush()
        elif self.path == "/ack":
            acked.set()
            self.send_response(204); self.end_headers()
        elif self.path.startswith("/big/"):
            n = int(self.path.split("/")[2]) * 1024 * 1024
            self.send_response(200); self.send_header("Content-Length", str(n)); self.end_headers()
            block = bytes(range(256)) * 256
            while n > 0:
                self.wfile.write(block[:min(n, len(block))]); n -= len(block)
        else:
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers()
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

fn run_client(src: &str) -> support::Output {
    let (peer, port) = python_server(PY_SERVER, &[]);
    let src = src.replace("PORT", &port.to_string());
    let out = support::run_script(&src, &[]);
    peer.signal("KILL");
    out.assert_no_panic();
    out
}

#[test]
fn a_chunk_callback_gets_each_piece_while_the_response_is_still_open() {
    let out = run_client(
        r#"
local pieces = {}
_PY.http_request_async({
  url = "http://127.0.0.1:PORT/events",
  chunk = function(data, head)
    pieces[#pieces + 1] = data
    if #pieces == 1 then
      print("first piece before the end: " .. data:gsub("\n", "|") .. " code=" .. head.code
        .. " type=" .. head.headers["Content-Type"])
      -- The server sends the rest only once it hears back from us.
      _PY.http_request_async("http://127.0.0.1:PORT/ack", function(r) print("ack " .. r.code) end)
    end
  end,
}, function(response)
  print("done " .. response.code .. " body=" .. #response.body .. " pieces=" .. table.concat(pieces):gsub("\n\n", "|"))
end)
"#,
    );
    out.assert_code(0);
    out.assert_stdout_contains(
        "first piece before the end: data: first|| code=200 type=text/event-stream",
    );
    out.assert_stdout_contains("ack 204");
    out.assert_stdout_contains(
        "done 200 body=0 pieces=data: first|data: 2|data: 3|data: 4|data: 5|",
    );
}

#[test]
fn stream_true_hands_the_pieces_to_the_callback_and_net_httpclient_takes_a_chunk_callback() {
    let out = run_client(
        r#"
local got = {}
_PY.http_request_async({ url = "http://127.0.0.1:PORT/events", stream = true }, function(r)
  if r.chunk then
    got[#got + 1] = r.chunk
    if #got == 1 then _PY.http_request_async("http://127.0.0.1:PORT/ack", function() end) end
  else
    print("final " .. r.code .. " " .. #got .. " pieces, error=" .. tostring(r.error))
    local seen = 0
    net = require("net")
    net.HTTPClient():request("http://127.0.0.1:PORT/big/1", {
      chunk = function(data) seen = seen + #data end,
      success = function(response) print("HTTPClient " .. response.status .. " streamed " .. seen .. " data=" .. #response.data) end,
      error = function(message) print("error " .. message) end,
    })
  end
end)
"#,
    );
    out.assert_code(0);
    let text = out.stdout.clone();
    let final_line = text
        .lines()
        .find(|line| line.starts_with("final "))
        .unwrap_or_else(|| panic!("no final line: {text}"));
    assert!(
        final_line.starts_with("final 200 ") && final_line.ends_with(" pieces, error=false"),
        "{final_line}"
    );
    out.assert_stdout_contains("HTTPClient 200 streamed 1048576 data=0");
}

/// Runs a download of `mib` MiB into `dir` and returns (stdout, peak RSS KiB of plua).
fn download(dir: &TempDir, port: u16, mib: u32) -> (String, u64) {
    let src = format!(
        r#"
local last = 0
local ok, info, err = _PY.http_download("http://127.0.0.1:{port}/big/{mib}", "out.bin", nil, {{
  progress = function(received, total) last = received; assert(total == {total}) end,
}})
print("ok=" .. tostring(ok) .. " bytes=" .. tostring(info and info.bytes) .. " progress=" .. last .. " err=" .. tostring(err))
io.stdout:flush()
-- Stay up a moment so the test can read the peak RSS of a finished download.
_PY.sleep(5)
"#,
        total = u64::from(mib) << 20
    );
    dir.write("download.lua", &src);
    let mut plua = Running::script(dir, &[], "download.lua");
    plua.wait_for_stdout("ok=");
    let peak = peak_rss_kib(plua.pid()).expect("peak rss");
    plua.signal("TERM");
    let out = plua.finish(Duration::from_secs(20));
    out.assert_no_panic();
    (out.stdout, peak)
}

#[test]
fn a_200_mb_download_is_written_to_disk_with_flat_rss() {
    let (peer, port) = python_server(PY_SERVER, &[]);
    let dir = TempDir::new();
    let (small_out, small_peak) = download(&dir, port, 20);
    assert!(
        small_out.contains(&format!("ok=true bytes={} progress={}", 20 << 20, 20 << 20)),
        "{small_out}"
    );
    let (out, peak) = download(&dir, port, 200);
    peer.signal("KILL");
    let bytes = 200u64 << 20;
    assert!(
        out.contains(&format!("ok=true bytes={bytes} progress={bytes} err=")),
        "{out}"
    );
    let file = std::fs::read(dir.path().join("out.bin")).expect("downloaded file");
    assert_eq!(file.len() as u64, bytes);
    let block: Vec<u8> = (0..=255u8).collect();
    assert!(
        file.chunks(256).all(|chunk| chunk == &block[..chunk.len()]),
        "content differs"
    );
    assert!(!dir.path().join("out.bin.part").exists());
    // Ten times the data, about the same memory.
    assert!(
        peak < small_peak + 8 * 1024 && peak < 32 * 1024,
        "peak RSS {peak} KiB for 200 MB vs {small_peak} KiB for 20 MB"
    );
}

#[test]
fn a_failed_download_reports_why_and_leaves_no_file() {
    let out = run_client(
        r#"
print(_PY.http_download("http://127.0.0.1:PORT/missing", "gone.bin"))
_PY.http_download("http://127.0.0.1:1/x", "gone.bin", function(ok, info, err)
  print("refused", ok, info, err ~= nil and err ~= "")
  local f = io.open("gone.bin") or io.open("gone.bin.part")
  print("file left:", f ~= nil)
end)
print(pcall(_PY.http_download, "http://127.0.0.1:PORT/big/1", {}))
"#,
    );
    out.assert_code(0);
    out.assert_stdout_contains("false\tnil\tHTTP Error 404");
    out.assert_stdout_contains("refused\tfalse\tnil\ttrue");
    out.assert_stdout_contains("file left:\tfalse");
    out.assert_stdout_contains("http_download: bad argument #2 (string expected, got table)");
}
