//! The HTTP client end to end: `_PY.http_request_async` / `_PY.http_request_sync` (reactor
//! client), `_PY.http_request_blocking_pool` (ureq on the worker pool) and `net.HTTPClient`,
//! against real peers on 127.0.0.1: a Python `http.server` (plain and TLS with a test CA made
//! by the openssl CLI) and plua `_PY.http_server_start` servers.

mod support;

use std::thread;

use support::{
    Output, Pki, Running, curl, free_port, http_server_script, python_server, run_named_script,
    start_http_server,
};

/// Python: a threaded HTTP/1.1 server on 127.0.0.1:0 that prints its port. With two arguments
/// (cert, key) it serves TLS. Paths:
/// - `/echo...`: JSON `{method, path, headers (lower-case names), body, client_port}`
/// - `/status/<n>`: that status, body `status <n>`
/// - `/redirect/<n>`: 302 to `/redirect/<n-1>`, `/redirect/1` to `/echo`
/// - `/slow`: sleeps 3 s, then `slow`; `/delay/<ms>`: sleeps, then `delayed`
/// - `/drip`: chunked body (Transfer-Encoding written by hand) `<0:><1:xxxxxxxxxx>...<4:x*40>`
/// - `/close-delimited`: `HTTP/1.0 200`, no Content-Length, body `line 0\nline 1\nline 2\n`,
///   then the connection is closed
/// - anything else: 404
const PY_HTTP: &str = r##"
import json, sys, time, ssl
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("py: " + (fmt % args) + "\n")

    def send_body(self, code, body, ctype="text/plain", extra=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[0] == "echo":
            info = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
                "client_port": self.client_address[1],
            }
            self.send_body(200, json.dumps(info), "application/json")
        elif parts[0] == "status":
            code = int(parts[1])
            self.send_body(code, "status %d" % code, extra=[("X-Status", str(code))])
        elif parts[0] == "redirect":
            hops = int(parts[1])
            loc = "/redirect/%d" % (hops - 1) if hops > 1 else "/echo"
            self.send_body(302, "", extra=[("Location", loc)])
        elif parts[0] == "slow":
            time.sleep(3)
            self.send_body(200, "slow")
        elif parts[0] == "delay":
            time.sleep(int(parts[1]) / 1000.0)
            self.send_body(200, "delayed")
        elif parts[0] == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(5):
                chunk = ("<%d:%s>" % (i, "x" * (i * 10))).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                time.sleep(0.05)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        elif parts[0] == "close-delimited":
            self.close_connection = True
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n")
            self.wfile.flush()
            for i in range(3):
                time.sleep(0.05)
                self.wfile.write(b"line %d\n" % i)
                self.wfile.flush()
        else:
            self.send_body(404, "no such path")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any

class S(ThreadingHTTPServer):
    daemon_threads = True

srv = S(("127.0.0.1", 0), H)
if len(sys.argv) > 2:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"##;

/// The expected body of `/drip`.
fn drip_body() -> String {
    (0..5)
        .map(|i| format!("<{i}:{}>", "x".repeat(i * 10)))
        .collect()
}

/// Starts the plain Python HTTP server.
fn py_http() -> (Running, u16) {
    python_server(PY_HTTP, &[])
}

/// Runs `client.lua` (`src`) with `args` (typically the port first) and asserts no panic.
fn run_client(src: &str, args: &[&str]) -> Output {
    let out = run_named_script("client.lua", src, &[], args);
    out.assert_no_panic();
    out
}

/// Runs `src` with `arg[1]` = the port of the Python server and asserts a clean exit.
fn run_against(port: u16, src: &str) -> Output {
    let out = run_client(src, &[&port.to_string()]);
    out.assert_code(0);
    out
}

/// Lua prelude: `base` = "http://127.0.0.1:<arg[1]>" and `show(s)` escaping newlines.
const PRELUDE: &str = r#"
local base = "http://127.0.0.1:" .. arg[1]
local function show(s) return (tostring(s):gsub("\n", "\\n")) end
"#;

fn lua(body: &str) -> String {
    format!("{PRELUDE}{body}")
}

// ---------------------------------------------------------------------------------------------
// Plain requests against Python's http.server
// ---------------------------------------------------------------------------------------------

#[test]
fn get_returns_code_headers_body_and_url() {
    let (_peer, port) = py_http();
    let out = run_against(
        port,
        &lua(r#"
local r = _PY.http_request_sync(base .. "/echo?x=1&y=two")
local e = _PY.parse_json(r.body)
print("sync", r.code, r.error, r.url == base .. "/echo?x=1&y=two", r.headers["content-type"],
  tonumber(r.headers["content-length"]) == #r.body)
print("seen", e.method, e.path, e.headers["host"], e.body == "")
_PY.http_request_async(base .. "/echo", function(r)
  local e = _PY.parse_json(r.body)
  print("async", r.code, r.error, e.method, e.path, r.url == base .. "/echo")
end)
"#),
    );
    out.assert_lines(&[
        "sync\t200\tnil\ttrue\tapplication/json\ttrue",
        &format!("seen\tGET\t/echo?x=1&y=two\t127.0.0.1:{port}\ttrue"),
        "async\t200\tfalse\tGET\t/echo\ttrue",
    ]);
}

#[test]
fn post_sends_body_and_custom_headers() {
    let (_peer, port) = py_http();
    let out = run_against(
        port,
        &lua(r#"
local r = _PY.http_request_sync({
  url = base .. "/echo", method = "POST", body = "hello body",
  headers = {["X-Custom"] = "abc", ["X-Number"] = 42, ["Content-Type"] = "text/plain"},
})
local e = _PY.parse_json(r.body)
print(r.code, e.method, e.body, e.headers["x-custom"], e.headers["x-number"],
  e.headers["content-type"], e.headers["content-length"])
-- A table body goes out as JSON; a lower-case method is upper-cased.
local r = _PY.http_request_sync({url = base .. "/echo", method = "put", body = {answer = 42}})
local e = _PY.parse_json(r.body)
print(r.code, e.method, e.headers["content-type"], _PY.parse_json(e.body).answer)
"#),
    );
    out.assert_lines(&[
        "200\tPOST\thello body\tabc\t42\ttext/plain\t10",
        "200\tPUT\tapplication/json\t42",
    ]);
}

#[test]
fn error_statuses_are_results_with_the_original_error_fields() {
    let (_peer, port) = py_http();
    let out = run_against(
        port,
        &lua(r#"
for _, path in ipairs({"/status/404", "/status/500", "/nowhere"}) do
  local r = _PY.http_request_sync(base .. path)
  print(path, r.code, r.error, r.error_message, r.body, r.headers["x-status"])
end
local net = require("net")
local client = net.HTTPClient({timeout = 5000})
local function ask(path, nxt)
  client:request(base .. path, {
    success = function(resp)
      print("success", path, resp.status, resp.data, resp.headers["x-status"])
      if nxt then nxt() end
    end,
    error = function(msg) print("error", path, msg) if nxt then nxt() end end,
  })
end
ask("/status/404", function() ask("/status/500") end)
"#),
    );
    out.assert_lines(&[
        "/status/404\t404\ttrue\tHTTP Error 404\tstatus 404\t404",
        "/status/500\t500\ttrue\tHTTP Error 500\tstatus 500\t500",
        "/nowhere\t404\ttrue\tHTTP Error 404\tno such path\tnil",
        "success\t/status/404\t404\tstatus 404\t404",
        "success\t/status/500\t500\tstatus 500\t500",
    ]);
}

#[test]
fn redirect_chain_of_three_hops_ends_at_echo() {
    let (_peer, port) = py_http();
    let out = run_against(
        port,
        &lua(r#"
local r = _PY.http_request_sync(base .. "/redirect/3")
local e = _PY.parse_json(r.body)
print(r.code, r.error, r.url == base .. "/echo", e.path, e.method)
_PY.http_request_async({url = base .. "/redirect/3", maxredirects = 3}, function(r)
  print("async", r.code, r.error, r.url == base .. "/echo", show(r.url))
end)
"#),
    );
    out.assert_lines(&[
        "200\tnil\ttrue\t/echo\tGET",
        &format!("async\t200\tfalse\ttrue\thttp://127.0.0.1:{port}/echo"),
    ]);
}

#[test]
fn maxredirects_one_on_a_three_hop_chain_is_an_error() {
    let (_peer, port) = py_http();
    let out = run_against(
        port,
        &lua(r#"
local r = _PY.http_request_sync({url = base .. "/redirect/3", maxredirects = 1})
print(r.code, r.error, tostring(r.error_message):lower():find("redirect", 1, true) ~= nil,
  show(r.error_message))
"#),
    );
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(lines[0].starts_with("0\ttrue\ttrue\t"), "{out:?}");
}

#[test]
fn redirect_false_returns_the_302_itself() {
    let (_peer, port) = py_http();
    let out = run_against(
        port,
        &lua(r#"
local r = _PY.http_request_sync({url = base .. "/redirect/3", redirect = false})
print(r.code, r.error, r.headers["location"], r.url == base .. "/redirect/3", #r.body)
"#),
    );
    out.assert_lines(&["302\tnil\t/redirect/2\ttrue\t0"]);
}

#[test]
fn timeout_gives_a_timeout_error() {
    let (_peer, port) = py_http();
    let out = run_against(
        port,
        &lua(r#"
local r = _PY.http_request_sync({url = base .. "/slow", timeout = 0.5})
print("sync", r.code, r.error, r.error_message)
_PY.http_request_async({url = base .. "/slow", timeout = 0.5}, function(r)
  print("async", r.code, r.error, r.error_message)
  local net = require("net")
  net.HTTPClient():request(base .. "/slow", {
    options = {timeout = 500},
    success = function(resp) print("success", resp.status) end,
    error = function(msg) print("error", msg) end,
  })
end)
"#),
    );
    out.assert_lines(&[
        "sync\t0\ttrue\ttimeout",
        "async\t0\ttrue\ttimeout",
        "error\ttimeout",
    ]);
}

#[test]
fn connection_refused_is_reported() {
    let port = free_port();
    let out = run_against(
        port,
        &lua(r#"
local r = _PY.http_request_sync(base .. "/echo")
print("sync", r.code, r.error, tostring(r.error_message):find("refused", 1, true) ~= nil,
  show(r.error_message))
_PY.http_request_async(base .. "/echo", function(r)
  print("async", r.code, r.error, tostring(r.error_message):find("refused", 1, true) ~= nil,
    show(r.error_message))
end)
"#),
    );
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(lines[0].starts_with("sync\t0\ttrue\ttrue\t"), "{out:?}");
    assert!(lines[1].starts_with("async\t0\ttrue\ttrue\t"), "{out:?}");
}

#[test]
fn chunked_and_close_delimited_bodies() {
    let (_peer, port) = py_http();
    let out = run_against(
        port,
        &lua(r#"
local r = _PY.http_request_sync(base .. "/drip")
print("drip", r.code, r.error, show(r.body))
local r = _PY.http_request_sync(base .. "/close-delimited")
print("close", r.code, r.error, show(r.body))
-- The client goes on working after the server closed that connection.
local r = _PY.http_request_sync(base .. "/drip")
print("drip", r.code, r.error, show(r.body))
_PY.http_request_async(base .. "/close-delimited", function(r)
  print("async close", r.code, r.error, show(r.body))
end)
"#),
    );
    let drip = drip_body();
    out.assert_lines(&[
        &format!("drip\t200\tnil\t{drip}"),
        "close\t200\tnil\tline 0\\nline 1\\nline 2\\n",
        &format!("drip\t200\tnil\t{drip}"),
        "async close\t200\tfalse\tline 0\\nline 1\\nline 2\\n",
    ]);
}

#[test]
fn keep_alive_reuses_the_connection() {
    let (_peer, port) = py_http();
    let out = run_against(
        port,
        &lua(r#"
local a = _PY.parse_json(_PY.http_request_sync(base .. "/echo").body)
local b = _PY.parse_json(_PY.http_request_sync(base .. "/echo").body)
print("sync", a.client_port == b.client_port, a.client_port, b.client_port)
_PY.http_request_async(base .. "/echo", function(r1)
  _PY.http_request_async(base .. "/echo", function(r2)
    local c, d = _PY.parse_json(r1.body), _PY.parse_json(r2.body)
    print("async", c.client_port == d.client_port, c.client_port, d.client_port)
  end)
end)
"#),
    );
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(lines[0].starts_with("sync\ttrue\t"), "{out:?}");
    assert!(lines[1].starts_with("async\ttrue\t"), "{out:?}");
}

#[test]
fn an_in_flight_request_keeps_the_process_alive() {
    let (_peer, port) = py_http();
    let out = run_against(
        port,
        &lua(r#"
_PY.http_request_async(base .. "/delay/300", function(r)
  print("callback", r.code, r.body)
end)
print("script end")
"#),
    );
    out.assert_lines(&["script end", "callback\t200\tdelayed"]);
}

// ---------------------------------------------------------------------------------------------
// https against a Python TLS server with a test CA
// ---------------------------------------------------------------------------------------------

/// The Python server with TLS (server.pem / server.key of `pki`).
fn py_https(pki: &Pki) -> (Running, u16) {
    python_server(PY_HTTP, &[&pki.path("server.pem"), &pki.path("server.key")])
}

#[test]
fn https_with_the_test_ca() {
    let pki = Pki::new();
    let (_peer, port) = py_https(&pki);
    let out = run_client(
        r#"
local base, ca = "https://127.0.0.1:" .. arg[1], arg[2]
local r = _PY.http_request_sync({url = base .. "/echo?tls=1", cafile = ca})
local e = r.code == 200 and _PY.parse_json(r.body) or {}
print("cafile", r.code, r.error, r.error_message, e.path)
_PY.http_request_async({url = base .. "/drip", cafile = ca}, function(r)
  print("async", r.code, r.error, r.error_message, #r.body)
end)
"#,
        &[&port.to_string(), &pki.path("ca.pem")],
    );
    out.assert_code(0).assert_lines(&[
        "cafile\t200\tnil\tnil\t/echo?tls=1",
        &format!("async\t200\tfalse\t\t{}", drip_body().len()),
    ]);
}

#[test]
fn https_without_the_ca_fails_with_a_certificate_error() {
    let pki = Pki::new();
    let (_peer, port) = py_https(&pki);
    let out = run_client(
        r#"
local base = "https://127.0.0.1:" .. arg[1]
local r = _PY.http_request_sync(base .. "/echo")
local m = tostring(r.error_message)
print("sync", r.code, r.error, m:lower():find("certificate", 1, true) ~= nil, m)
local net = require("net")
net.HTTPClient():request(base .. "/echo", {
  success = function(resp) print("success", resp.status) end,
  error = function(msg) print("error", msg:lower():find("certificate", 1, true) ~= nil, msg) end,
})
"#,
        &[&port.to_string()],
    );
    out.assert_code(0);
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(lines[0].starts_with("sync\t0\ttrue\ttrue\t"), "{out:?}");
    assert!(lines[1].starts_with("error\ttrue\t"), "{out:?}");
}

#[test]
fn https_with_verify_false_succeeds_without_the_ca() {
    let pki = Pki::new();
    let (_peer, port) = py_https(&pki);
    let out = run_client(
        r#"
local base = "https://127.0.0.1:" .. arg[1]
local r = _PY.http_request_sync({url = base .. "/echo", verify = false})
print("sync", r.code, r.error, r.error_message)
local net = require("net")
net.HTTPClient():request(base .. "/status/201", {
  options = {checkCertificate = false},
  success = function(resp) print("success", resp.status, resp.data) end,
  error = function(msg) print("error", msg) end,
})
"#,
        &[&port.to_string()],
    );
    out.assert_code(0)
        .assert_lines(&["sync\t200\tnil\tnil", "success\t201\tstatus 201"]);
}

// ---------------------------------------------------------------------------------------------
// Against plua servers
// ---------------------------------------------------------------------------------------------

#[test]
fn two_hundred_concurrent_requests_to_a_sleeping_plua_server() {
    let (_dir, server, port) = start_http_server(&http_server_script(
        r#"function(req) _PY.sleep(0.2) return 200, "ok " .. req.path end"#,
        "nil",
    ));
    let out = run_against(
        port,
        &lua(r#"
local n, done, bad = 200, 0, {}
local t0 = _PY.get_time()
for i = 1, n do
  _PY.http_request_async(base .. "/r" .. i, function(r)
    done = done + 1
    if r.code ~= 200 or r.body ~= "ok /r" .. i then
      bad[#bad + 1] = i .. ":" .. tostring(r.code) .. ":" .. tostring(r.error_message)
    end
    if done == n then
      print("done", done, #bad, string.format("%.3f", _PY.get_time() - t0))
      if #bad > 0 then print("bad", table.concat(bad, " ", 1, math.min(#bad, 10))) end
    end
  end)
end
"#),
    );
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{out:?}");
    let fields: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(&fields[..3], ["done", "200", "0"], "{out:?}");
    let elapsed: f64 = fields[3].parse().expect("elapsed seconds");
    // 200 handlers sleeping 0.2 s: a 4-thread pool would need 10 s.
    assert!(elapsed < 2.0, "200 concurrent requests took {elapsed} s");
    server.kill_and_collect().assert_no_panic();
}

#[test]
fn plua_handler_yields_on_an_http_call_to_a_second_plua_server() {
    let (_dir, server, port) = start_http_server(
        r#"
local b_id, b_port = _PY.http_server_start("127.0.0.1", 0, function(req)
  _PY.sleep(0.1)
  return 200, "B saw " .. req.path, {["X-From"] = "B"}
end)
assert(b_id, b_port)
local a_id, a_port = _PY.http_server_start("127.0.0.1", 0, function(req)
  local r = _PY.http_request_sync("http://127.0.0.1:" .. b_port .. "/inner" .. req.path)
  return r.code == 200 and 200 or 502,
    "A relays: " .. tostring(r.body) .. " (" .. tostring(r.headers["x-from"]) .. ")"
end)
assert(a_id, a_port)
print("port=" .. a_port)
io.stdout:flush()
"#,
    );
    // Several at once: the handlers wait on B concurrently, and B lives on the same reactor.
    let handles: Vec<_> = (0..5)
        .map(|i| {
            let url = format!("http://127.0.0.1:{port}/x{i}");
            thread::spawn(move || curl(&["-s", "-S", "-w", " %{http_code}", &url]))
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let out = h.join().expect("curl thread");
        assert_eq!(out.code, Some(0), "{out:?}");
        assert_eq!(out.stdout, format!("A relays: B saw /inner/x{i} (B) 200"));
    }
    server.kill_and_collect().assert_no_panic();
}

// ---------------------------------------------------------------------------------------------
// The worker pool client
// ---------------------------------------------------------------------------------------------

#[test]
fn blocking_pool_request_does_not_hold_up_timers() {
    let (_peer, port) = py_http();
    let out = run_against(
        port,
        &lua(r#"
setTimeout(function() print("timer") end, 50)
_PY.http_request_blocking_pool({url = base .. "/slow"}, function(r)
  print("pooled", r.code, r.error, r.body)
end)
"#),
    );
    out.assert_lines(&["timer", "pooled\t200\tnil\tslow"]);
}

#[test]
fn blocking_pool_posts_and_reports_statuses() {
    let (_peer, port) = py_http();
    let out = run_against(
        port,
        &lua(r#"
_PY.http_request_blocking_pool({url = base .. "/echo", method = "POST", body = "pool body",
    headers = {["X-Pool"] = "yes"}}, function(r)
  local e = _PY.parse_json(r.body)
  print("post", r.code, e.method, e.body, e.headers["x-pool"])
  _PY.http_request_blocking_pool({url = base .. "/status/404"}, function(r)
    print("404", r.code, r.error, r.body)
  end)
end)
"#),
    );
    out.assert_lines(&[
        "post\t200\tPOST\tpool body\tyes",
        "404\t404\tnil\tstatus 404",
    ]);
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_arguments_raise_errors_naming_the_function() {
    let out = run_client(
        r#"
for _, name in ipairs({"http_request_async", "http_request_sync", "http_request_blocking_pool"}) do
  local ok, err = pcall(_PY[name], 42)
  print(name, ok, tostring(err):find(name, 1, true) ~= nil)
end
local ok, err = pcall(_PY.http_request_async, {url = 5}, function() end)
print("url", ok, tostring(err):find("http_request_async", 1, true) ~= nil)
local ok, err = pcall(_PY.http_request_async, "http://127.0.0.1:1/", 5)
print("cb", ok, tostring(err):find("http_request_async", 1, true) ~= nil)
"#,
        &[],
    );
    out.assert_code(0).assert_lines(&[
        "http_request_async\tfalse\ttrue",
        "http_request_sync\tfalse\ttrue",
        "http_request_blocking_pool\tfalse\ttrue",
        "url\tfalse\ttrue",
        "cb\tfalse\ttrue",
    ]);
}

#[test]
fn malformed_urls_give_an_error_result() {
    let out = run_client(
        r#"
local function check(tag, r)
  local m = tostring(r.error_message)
  print(tag, r.code, r.error, m:lower():find("url", 1, true) ~= nil, m)
end
for _, u in ipairs({"ftp://x", "http://", "http://127.0.0.1:notaport/"}) do
  check("sync " .. u, _PY.http_request_sync(u))
end
_PY.http_request_async("ftp://x", function(r) check("async ftp://x", r) end)
_PY.http_request_async("http://", function(r) check("async http://", r) end)
_PY.http_request_blocking_pool({url = "ftp://x"}, function(r)
  print("pool ftp://x", r.code, r.error, #tostring(r.error_message) > 0)
end)
"#,
        &[],
    );
    out.assert_code(0);
    let lines = out.lines();
    assert_eq!(lines.len(), 6, "{out:?}");
    let mut sorted = lines.clone();
    sorted.sort();
    let prefixes = [
        "async ftp://x\t0\ttrue\ttrue\t",
        "async http://\t0\ttrue\ttrue\t",
        "pool ftp://x\t0\ttrue\ttrue",
        "sync ftp://x\t0\ttrue\ttrue\t",
        "sync http://\t0\ttrue\ttrue\t",
        "sync http://127.0.0.1:notaport/\t0\ttrue\ttrue\t",
    ];
    for (line, prefix) in sorted.iter().zip(prefixes) {
        assert!(line.starts_with(prefix), "{line:?} !~ {prefix:?}\n{out:?}");
    }
}
