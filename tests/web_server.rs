//! The script web server end to end, against curl and raw sockets: routes with path
//! parameters (`net.HTTPServer():get/post/route`, `_PY.add_route`), the 404 and 405 answers,
//! the one-handler form beside routes; static files (`server:static`) with media types,
//! `ETag`/304, `Range`/206/416, `HEAD`, index files and traversal attempts refused; a 1 GiB
//! file served with a small, flat RSS; streamed responses (a handler returning a function,
//! `res:write`/`res:finish`), Server-Sent Events read by curl while a timer keeps firing, and a
//! client that goes away ending the stream with an error the handler sees.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::Command;
use std::time::Duration;

use support::{
    Running, TempDir, curl, curl_i, peak_rss_kib, raw_connect, read_until_closed,
    start_http_server, url,
};

fn finish(server: Running) -> support::Output {
    let out = server.kill_and_collect();
    out.assert_no_panic();
    out
}

/// A routed server in the style of a small device API.
const DEVICE_API: &str = r#"
local net = require("net")
local devices = { ["7"] = { id = 7, name = "Lamp", value = false } }
local server = net.HTTPServer()
server:get("/devices", function(req) return 200, { count = 1 } end)
      :get("/devices/{id}", function(req)
        local device = devices[req.params.id]
        if not device then return 404, { error = "no device " .. req.params.id } end
        return 200, device
      end)
      :put("/devices/{id}", function(req)
        local device = devices[req.params.id]
        device.value = _PY.parse_json(req.body).value
        return 200, device
      end)
      :route("POST", "/devices/{id}/action/{name}", function(req)
        return 202, req.params.id .. ":" .. req.params.name
      end)
      :get("/files/*", function(req) return 200, "rest=" .. req.params["*"] end)
local ok, port = server:start("127.0.0.1", 0)
assert(ok, port)
print("port=" .. port)
io.stdout:flush()
"#;

#[test]
fn routes_pass_path_parameters_and_answer_404_and_405_as_json() {
    let (_dir, server, port) = start_http_server(DEVICE_API);
    let got = curl_i(&[&url(port, "/devices/7")]);
    assert_eq!(got.status, 200);
    assert!(
        got.body_text().contains(r#""name":"Lamp""#),
        "{}",
        got.body_text()
    );

    let got = curl_i(&[
        "-X",
        "PUT",
        "-d",
        r#"{"value":true}"#,
        &url(port, "/devices/7"),
    ]);
    assert!(
        got.body_text().contains(r#""value":true"#),
        "{}",
        got.body_text()
    );

    let got = curl_i(&["-X", "POST", &url(port, "/devices/7/action/turnOn")]);
    assert_eq!((got.status, got.body_text().as_str()), (202, "7:turnOn"));

    let got = curl_i(&[&url(port, "/files/a/b%20c.txt")]);
    assert_eq!(got.body_text(), "rest=a/b%20c.txt");

    let got = curl_i(&[&url(port, "/devices/99")]);
    assert_eq!(got.status, 404);
    assert!(got.body_text().contains("no device 99"));

    let got = curl_i(&[&url(port, "/nowhere")]);
    assert_eq!(got.status, 404);
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(
        got.body_text(),
        r#"{"error":"not found","path":"/nowhere"}"#
    );

    let got = curl_i(&["-X", "DELETE", &url(port, "/devices/7")]);
    assert_eq!(got.status, 405);
    assert_eq!(got.header("allow"), Some("GET, HEAD, PUT"));
    assert!(got.body_text().contains(r#""error":"method not allowed""#));

    // HEAD uses the GET route: the length, no body.
    let got = curl_i(&["-I", &url(port, "/devices")]);
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-length"), Some("11"));
    finish(server);
}

#[test]
fn the_one_handler_form_answers_what_no_route_matches() {
    let src = r#"
local net = require("net")
local server = net.HTTPServer()
server:get("/ping", function() return 200, "pong" end)
local ok, port = server:start("127.0.0.1", 0, function(method, path, body)
  return "fallback " .. method .. " " .. path, 200
end)
print("port=" .. port)
io.stdout:flush()
"#;
    let (_dir, server, port) = start_http_server(src);
    assert_eq!(curl_i(&[&url(port, "/ping")]).body_text(), "pong");
    assert_eq!(
        curl_i(&[&url(port, "/other?x=1")]).body_text(),
        "fallback GET /other?x=1"
    );
    finish(server);
}

#[test]
fn add_route_serves_the_web_compatibility_server_before_and_after_it_starts() {
    let src = r#"
_PY.add_route("GET", "/hello/{name}", function(req) return 200, "hello " .. req.params.name end)
local ok, message = _PY.start_web_server(0)
assert(ok, message)
_PY.add_route("post", "/echo", function(req) return 201, req.body end)
local port = _PY.get_web_server_status().port
print("port=" .. port)
io.stdout:flush()
"#;
    let (_dir, server, port) = start_http_server(src);
    assert_eq!(
        curl_i(&[&url(port, "/hello/world")]).body_text(),
        "hello world"
    );
    let got = curl_i(&["-d", "abc", &url(port, "/echo")]);
    assert_eq!((got.status, got.body_text().as_str()), (201, "abc"));
    assert_eq!(curl_i(&[&url(port, "/missing")]).status, 404);
    assert_eq!(curl_i(&[&url(port, "/echo")]).status, 405);
    finish(server);
}

#[test]
fn bad_routes_are_refused_with_a_message_naming_the_call() {
    let out = support::run_script(
        r#"
local net = require("net")
local s = net.HTTPServer()
print(pcall(s.get, s, "devices", function() end))
print(pcall(s.get, s, "/a/{bad", function() end))
print(pcall(s.get, s, "/a", "not a function"))
print(pcall(_PY.add_route, "GET", "/x", nil))
"#,
        &[],
    );
    out.assert_code(0);
    out.assert_stdout_contains("pattern must start with '/'");
    out.assert_stdout_contains("a parameter is written {name}");
    out.assert_stdout_contains(
        "net.HTTPServer:get: bad argument #3 (function expected, got string)",
    );
    out.assert_stdout_contains("add_route: bad argument #3 (function expected, got nil)");
}

/// A server with `dir` mounted at `/static` (index.html, 60 s cache), a route beside it.
fn static_server(dir: &TempDir) -> (TempDir, Running, u16) {
    let src = format!(
        r#"
local net = require("net")
local server = net.HTTPServer()
server:static("/static", "{}", {{ index = "index.html", cache = 60 }})
server:get("/static/api", function() return 200, "route" end)
local ok, port = server:start("127.0.0.1", 0)
assert(ok, port)
print("port=" .. port)
io.stdout:flush()
"#,
        dir.path().display()
    );
    start_http_server(&src)
}

fn site() -> TempDir {
    let site = TempDir::new();
    site.write("index.html", "<h1>home</h1>");
    site.write("app.js", "console.log(1)");
    site.write("style.css", "body{}");
    site.write("data.json", "{}");
    std::fs::create_dir(site.path().join("docs")).expect("mkdir");
    site.write("docs/index.html", "<p>docs</p>");
    let digits: String = (0..1000)
        .map(|i| char::from(b'0' + (i % 10) as u8))
        .collect();
    site.write("digits.txt", &digits);
    site
}

#[test]
fn static_files_carry_their_media_type_validators_and_cache_time() {
    let site = site();
    let (_dir, server, port) = static_server(&site);
    for (path, media) in [
        ("/static/index.html", "text/html; charset=utf-8"),
        ("/static/app.js", "text/javascript; charset=utf-8"),
        ("/static/style.css", "text/css; charset=utf-8"),
        ("/static/data.json", "application/json"),
    ] {
        let got = curl_i(&[&url(port, path)]);
        assert_eq!(got.status, 200, "{path}");
        assert_eq!(got.header("content-type"), Some(media), "{path}");
        assert_eq!(got.header("cache-control"), Some("max-age=60"));
        assert!(got.header("etag").is_some() && got.header("last-modified").is_some());
    }
    // A directory serves its index; without the slash it redirects first.
    assert_eq!(
        curl_i(&[&url(port, "/static/")]).body_text(),
        "<h1>home</h1>"
    );
    let got = curl_i(&[&url(port, "/static/docs")]);
    assert_eq!(got.status, 301);
    assert_eq!(got.header("location"), Some("/static/docs/"));
    assert_eq!(
        curl(&["-s", "-L", &url(port, "/static/docs")]).stdout,
        "<p>docs</p>"
    );
    // A route under the prefix still answers; a missing file falls through to the 404 JSON.
    assert_eq!(curl_i(&[&url(port, "/static/api")]).body_text(), "route");
    let got = curl_i(&[&url(port, "/static/missing.txt")]);
    assert_eq!(got.status, 404);
    assert!(got.body_text().contains("not found"));
    finish(server);
}

#[test]
fn static_files_answer_304_ranges_and_head() {
    let site = site();
    let (_dir, server, port) = static_server(&site);
    let first = curl_i(&[&url(port, "/static/digits.txt")]);
    let etag = first.header("etag").expect("etag").to_owned();
    let modified = first
        .header("last-modified")
        .expect("last-modified")
        .to_owned();

    let got = curl_i(&[
        "-H",
        &format!("If-None-Match: {etag}"),
        &url(port, "/static/digits.txt"),
    ]);
    assert_eq!(got.status, 304);
    assert!(got.body.is_empty());
    let got = curl_i(&[
        "-H",
        &format!("If-Modified-Since: {modified}"),
        &url(port, "/static/digits.txt"),
    ]);
    assert_eq!(got.status, 304);
    let got = curl_i(&[
        "-H",
        "If-None-Match: \"other\"",
        &url(port, "/static/digits.txt"),
    ]);
    assert_eq!(got.status, 200);

    let got = curl_i(&["-r", "10-19", &url(port, "/static/digits.txt")]);
    assert_eq!(got.status, 206);
    assert_eq!(got.header("content-range"), Some("bytes 10-19/1000"));
    assert_eq!(got.body_text(), "0123456789");
    let got = curl_i(&["-r", "-3", &url(port, "/static/digits.txt")]);
    assert_eq!((got.status, got.body_text().as_str()), (206, "789"));
    let got = curl_i(&["-r", "5000-", &url(port, "/static/digits.txt")]);
    assert_eq!(got.status, 416);
    assert_eq!(got.header("content-range"), Some("bytes */1000"));

    let got = curl_i(&["-I", &url(port, "/static/digits.txt")]);
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-length"), Some("1000"));
    assert!(got.body.is_empty());
    finish(server);
}

#[test]
fn no_request_path_leaves_the_static_directory() {
    let outside = TempDir::new();
    outside.write("secret.txt", "secret");
    let site = site();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        site.path().join("link.txt"),
    )
    .expect("symlink");
    std::os::unix::fs::symlink(outside.path(), site.path().join("linkdir")).expect("symlink");
    let (_dir, server, port) = static_server(&site);
    let status = |path: &str| {
        // Raw requests: curl would normalise the dots away.
        let mut stream = raw_connect(port);
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let (bytes, _) = read_until_closed(&mut stream);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert!(!text.contains("secret"), "{path} leaked: {text}");
        text.split(' ')
            .nth(1)
            .unwrap_or("")
            .parse::<u16>()
            .unwrap_or(0)
    };
    assert_eq!(status("/static/../secret.txt"), 400);
    assert_eq!(status("/static/docs/../../secret.txt"), 400);
    assert_eq!(status("/static/%2e%2e/secret.txt"), 400);
    assert_eq!(status("/static/%2E%2E%2Fsecret.txt"), 400);
    assert_eq!(status("/static/index.html%00.txt"), 400);
    assert_eq!(status("/static/link.txt"), 404);
    assert_eq!(status("/static/linkdir/secret.txt"), 404);
    // The server is fine afterwards.
    assert_eq!(status("/static/index.html"), 200);
    finish(server);
}

#[test]
fn a_one_gib_file_is_served_whole_with_the_server_rss_under_16_mb() {
    let site = TempDir::new();
    let big = site.path().join("big.bin");
    // Sparse: reads as zeros, takes no disk.
    std::fs::File::create(&big)
        .and_then(|file| file.set_len(1 << 30))
        .expect("create big file");
    let (_dir, server, port) = static_server(&site);
    let out = curl(&[
        "-s",
        "-S",
        "--max-time",
        "120",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download}",
        &url(port, "/static/big.bin"),
    ]);
    assert_eq!(
        out.stdout.trim(),
        format!("200 {}", 1u64 << 30),
        "{}",
        out.stderr
    );
    let peak = peak_rss_kib(server.pid()).expect("peak rss");
    assert!(
        peak < 16 * 1024,
        "server peak RSS {peak} KiB while sending 1 GiB"
    );
    // And it still answers at once.
    assert_eq!(curl_i(&["-I", &url(port, "/static/big.bin")]).status, 200);
    finish(server);
}

/// A server script with streaming routes; the SSE stream sends three events, then waits for
/// `/finish` to end it; a timer counts ticks all along.
const STREAMS: &str = r#"
local net = require("net")
local ticks = 0
setInterval(function() ticks = ticks + 1 end, 10)
local sse
local server = net.HTTPServer()
server:get("/count", function(req)
  local n = 0
  return 200, function()
    n = n + 1
    if n > 5 then return nil end
    _PY.sleep(0.01)
    return "line " .. n .. "\n"
  end, { ["Content-Type"] = "text/plain" }
end)
server:get("/events", function(req, res)
  res:start(200, { ["Content-Type"] = "text/event-stream", ["Cache-Control"] = "no-cache" })
  for i = 1, 3 do
    res:write("data: event " .. i .. "\n\n")
    _PY.sleep(0.02)
  end
  sse = { res = res, ticks = ticks }
  print("streaming, ticks=" .. ticks)
end)
server:get("/finish", function()
  sse.res:write("data: ticks " .. (ticks - sse.ticks) .. "\n\n")
  sse.res:finish("data: end\n\n")
  return 200, "finished"
end)
server:get("/forever", function(req, res)
  res:on_close(function() print("on_close ran") end)
  local i = 0
  while true do
    i = i + 1
    local ok, err = res:write(("x"):rep(1000) .. "\n")
    if not ok then
      print("write failed: " .. tostring(err) .. ", closed=" .. tostring(res.closed))
      return
    end
    _PY.sleep(0.005)
  end
end)
server:get("/broken", function(req, res)
  res:write("partial\n")
  error("handler broke mid-stream")
end)
local ok, port = server:start("127.0.0.1", 0)
print("port=" .. port)
io.stdout:flush()
"#;

#[test]
fn a_handler_that_returns_a_function_streams_a_chunked_response() {
    let (_dir, server, port) = start_http_server(STREAMS);
    let got = curl_i(&["--raw", &url(port, "/count")]);
    assert_eq!(got.header("transfer-encoding"), Some("chunked"));
    assert!(got.header("content-length").is_none());
    let raw = got.body_text();
    assert!(raw.starts_with("7\r\nline 1\n\r\n"), "{raw:?}");
    assert!(raw.ends_with("7\r\nline 5\n\r\n0\r\n\r\n"), "{raw:?}");
    assert_eq!(
        curl_i(&[&url(port, "/count")]).body_text(),
        "line 1\nline 2\nline 3\nline 4\nline 5\n"
    );
    // HTTP/1.0 has no chunks: the body ends with the connection.
    let mut stream = raw_connect(port);
    stream
        .write_all(b"GET /count HTTP/1.0\r\n\r\n")
        .expect("write");
    let (bytes, closed) = read_until_closed(&mut stream);
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        closed && text.ends_with("\r\n\r\nline 1\nline 2\nline 3\nline 4\nline 5\n"),
        "{text:?}"
    );
    finish(server);
}

#[test]
fn server_sent_events_reach_curl_while_the_stream_is_open_and_timers_keep_firing() {
    let (_dir, mut server, port) = start_http_server(STREAMS);
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-N", "--max-time", "20", &url(port, "/events")]);
    let mut reader = Running::start(cmd, false);
    reader.wait_for_count("data: event ", 3, false);
    server.wait_for_stdout("streaming, ticks=");
    assert!(reader.is_running(), "the stream ended early");
    // The stream is still open; end it from another request.
    assert_eq!(curl_i(&[&url(port, "/finish")]).body_text(), "finished");
    let out = reader.finish(Duration::from_secs(20));
    out.assert_code(0);
    let lines: Vec<&str> = out.lines().into_iter().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        &lines[..3],
        ["data: event 1", "data: event 2", "data: event 3"]
    );
    assert_eq!(lines.last(), Some(&"data: end"));
    let ticks: u64 = lines[3]
        .strip_prefix("data: ticks ")
        .and_then(|n| n.parse().ok())
        .expect("ticks line");
    assert!(ticks > 0, "no timer fired while the stream was open");
    finish(server);
}

#[test]
fn a_client_that_goes_away_ends_the_stream_with_an_error_the_handler_sees() {
    let (_dir, mut server, port) = start_http_server(STREAMS);
    {
        let mut stream = raw_connect(port);
        stream
            .write_all(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut status_line = String::new();
        reader.read_line(&mut status_line).expect("status line");
        assert!(status_line.starts_with("HTTP/1.1 200"), "{status_line}");
        let mut piece = String::new();
        while piece != "\r\n" {
            piece.clear();
            reader.read_line(&mut piece).expect("head");
        }
        reader.read_line(&mut piece).expect("first chunk");
    } // dropped: the client is gone
    server.wait_for_stdout("write failed: closed, closed=true");
    server.wait_for_stdout("on_close ran");
    // A stream whose handler fails half-way is cut off, not ended as if whole.
    let out = curl(&["-s", "-S", &url(port, "/broken")]);
    assert_ne!(
        out.code,
        Some(0),
        "curl took a truncated stream for a whole one"
    );
    assert!(out.stdout.contains("partial"));
    // Other clients are served as before.
    assert_eq!(curl_i(&[&url(port, "/count")]).status, 200);
    let out = finish(server);
    assert!(
        out.stderr.contains("handler broke mid-stream"),
        "{}",
        out.stderr
    );
}
