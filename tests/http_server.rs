//! `_PY.http_server_start` end to end: a plua server script (printing `port=N`) driven by real
//! peers — curl, Python's http.client and raw sockets on 127.0.0.1. Covers request decoding
//! (query, headers, bodies: plain, chunked, `Expect: 100-continue`, 5 MB), responses (status,
//! custom headers, JSON tables, HEAD), error answers (400, 431, 413, 500), keep-alive,
//! pipelining in request order, yielding handlers, HTTP/1.0 and stopping from a handler.

mod support;

use std::io::{BufReader, Write};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use support::{
    GUARD, Running, TempDir, curl, curl_i, http_server_script, parse_curl_i, python, raw_connect,
    read_http_response, read_until_closed, start_http_server, url,
};

/// Starts a server with `handler` (a Lua function expression) and `opts` (Lua table or `nil`).
fn server(handler: &str, opts: &str) -> (TempDir, Running, u16) {
    start_http_server(&http_server_script(handler, opts))
}

/// Kills the server and asserts it never panicked.
fn finish(server: Running) -> support::Output {
    let out = server.kill_and_collect();
    out.assert_no_panic();
    out
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let word = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// FNV-1a, 64 bit: a checksum to compare big bodies by.
fn fnv1a(data: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in data {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Echoes method, length and body; reports request headers of interest as response headers.
const ECHO_HANDLER: &str = r#"function(req)
  return 200, req.body, {
    ["X-Method"] = req.method,
    ["X-Body-Length"] = tostring(#req.body),
    ["X-Saw-TE"] = tostring(req.headers["transfer-encoding"]),
    ["X-Saw-Expect"] = tostring(req.headers["expect"]),
    ["X-Saw-CL"] = tostring(req.headers["content-length"]),
  }
end"#;

#[test]
fn get_decodes_the_query_string() {
    let (_dir, srv, port) = server(
        r#"function(req)
  local keys = {}
  for k in pairs(req.query) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = k .. "=[" .. req.query[k] .. "]" end
  return 200, req.method .. " " .. req.path .. " " .. table.concat(out, " ")
end"#,
        "nil",
    );
    let resp = curl_i(&[&url(
        port,
        "/query?name=J%C3%BCrgen&sp=a%20b&plus=a+b&amp=x%26y&eq=1%3D2&empty=&tail=%41",
    )]);
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(
        resp.body_text(),
        "GET /query amp=[x&y] empty=[] eq=[1=2] name=[Jürgen] plus=[a b] sp=[a b] tail=[A]"
    );
    // No query at all: an empty table, and the path has no `?`.
    let resp = curl_i(&[&url(port, "/plain")]);
    assert_eq!(resp.body_text(), "GET /plain ");
    finish(srv);
}

#[test]
fn post_body_is_echoed_back() {
    let (_dir, srv, port) = server(ECHO_HANDLER, "nil");
    let resp = curl_i(&[
        "--data-binary",
        "hello=world&binary=\u{e9}\u{1}",
        "-H",
        "Content-Type: application/x-www-form-urlencoded",
        &url(port, "/echo"),
    ]);
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.header("X-Method"), Some("POST"));
    assert_eq!(resp.body_text(), "hello=world&binary=\u{e9}\u{1}");
    assert_eq!(
        resp.header("X-Body-Length"),
        Some("hello=world&binary=\u{e9}\u{1}".len().to_string().as_str())
    );
    // A PUT with an empty body.
    let resp = curl_i(&["-X", "PUT", "--data-binary", "", &url(port, "/empty")]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("X-Method"), Some("PUT"));
    assert_eq!(resp.header("X-Body-Length"), Some("0"));
    assert!(resp.body.is_empty(), "{resp:?}");
    finish(srv);
}

#[test]
fn request_headers_reach_the_handler_with_lower_case_names() {
    let (_dir, srv, port) = server(
        r#"function(req)
  local upper = 0
  for name in pairs(req.headers) do
    if name ~= name:lower() then upper = upper + 1 end
  end
  return 200, table.concat({
    "mixed=" .. tostring(req.headers["x-mixed-case"]),
    "repeat=" .. tostring(req.headers["x-repeat"]),
    "ua=" .. tostring(req.headers["user-agent"]),
    "host=" .. tostring(req.headers["host"]),
    "upper=" .. upper,
    "exact=" .. tostring(req.headers["X-Mixed-Case"]),
  }, "\n")
end"#,
        "nil",
    );
    let resp = curl_i(&[
        "-H",
        "X-Mixed-Case:   Value With Spaces  ",
        "-H",
        "X-Repeat: a",
        "-H",
        "X-Repeat: b",
        "-A",
        "plua-test/1",
        &url(port, "/h"),
    ]);
    assert_eq!(resp.status, 200);
    let body = resp.body_text();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines,
        [
            "mixed=Value With Spaces",
            "repeat=a, b",
            "ua=plua-test/1",
            &format!("host=127.0.0.1:{port}"),
            "upper=0",
            "exact=nil",
        ]
    );
    finish(srv);
}

#[test]
fn table_body_is_sent_as_json() {
    let (_dir, srv, port) = server(
        r#"function(req)
  if req.path == "/typed" then
    return 200, {a = 1}, {["Content-Type"] = "application/vnd.test+json"}
  end
  return 200, {ok = true, list = {1, 2, 3}, name = "plua", nested = {x = "y"}}
end"#,
        "nil",
    );
    let resp = curl_i(&[&url(port, "/json")]);
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("Content-Type"),
        Some("application/json"),
        "{resp:?}"
    );
    assert_eq!(
        resp.body_text(),
        r#"{"list":[1,2,3],"name":"plua","nested":{"x":"y"},"ok":true}"#
    );
    assert_eq!(
        resp.header("Content-Length"),
        Some(resp.body.len().to_string().as_str())
    );
    // A Content-Type from the handler wins and is not doubled.
    let resp = curl_i(&[&url(port, "/typed")]);
    assert_eq!(resp.body_text(), r#"{"a":1}"#);
    let types: Vec<&str> = resp
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(types, ["application/vnd.test+json"], "{resp:?}");
    finish(srv);
}

#[test]
fn status_codes_and_custom_response_headers() {
    let (_dir, srv, port) = server(
        r#"function(req)
  if req.path == "/created" then
    return 201, "made it", {["X-Custom"] = "yes", ["X-Request-Path"] = req.path, Location = "/things/1"}
  elseif req.path == "/missing" then
    return 404, "no such thing\n"
  elseif req.path == "/nothing" then
    return 204
  elseif req.path == "/teapot" then
    return 418, "short and stout"
  end
  return "plain string means 200"
end"#,
        "nil",
    );
    let resp = curl_i(&[&url(port, "/created")]);
    assert_eq!(resp.status, 201, "{resp:?}");
    assert!(resp.status_line.starts_with("HTTP/1.1 201"), "{resp:?}");
    assert_eq!(resp.header("X-Custom"), Some("yes"));
    assert_eq!(resp.header("X-Request-Path"), Some("/created"));
    assert_eq!(resp.header("Location"), Some("/things/1"));
    assert_eq!(resp.body_text(), "made it");

    let resp = curl_i(&[&url(port, "/missing")]);
    assert_eq!(resp.status, 404);
    assert_eq!(resp.body_text(), "no such thing\n");

    let resp = curl_i(&[&url(port, "/nothing")]);
    assert_eq!(resp.status, 204);
    assert!(resp.body.is_empty());

    let resp = curl_i(&[&url(port, "/teapot")]);
    assert_eq!(resp.status, 418);
    assert_eq!(resp.body_text(), "short and stout");

    let resp = curl_i(&[&url(port, "/other")]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body_text(), "plain string means 200");
    finish(srv);
}

#[test]
fn keep_alive_reuses_one_connection_for_two_urls() {
    let (_dir, srv, port) = server(
        r#"function(req) return 200, req.path .. " from " .. req.remote .. "\n" end"#,
        "nil",
    );
    let out = curl(&["-s", "-S", "-v", &url(port, "/one"), &url(port, "/two")]);
    out.assert_code(0);
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{out:?}");
    let remote = |line: &str, path: &str| -> String {
        line.strip_prefix(&format!("{path} from 127.0.0.1:"))
            .unwrap_or_else(|| panic!("unexpected body line {line:?}"))
            .to_owned()
    };
    let first = remote(lines[0], "/one");
    let second = remote(lines[1], "/two");
    assert_eq!(
        first, second,
        "the two requests came from different client ports"
    );
    assert!(
        out.stderr.contains("Re-using existing connection"),
        "curl did not reuse the connection:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Connection: keep-alive"),
        "{}",
        out.stderr
    );
    finish(srv);
}

/// POSTs `data` to `target` with curl (plus `extra` options), saving the response body;
/// returns curl's output (asserted successful) and the body it received.
fn upload(dir: &TempDir, data: &[u8], extra: &[&str], target: &str) -> (support::Output, Vec<u8>) {
    let file = dir.path().join("upload.bin");
    std::fs::write(&file, data).unwrap();
    let download = dir.path().join("download.bin");
    let body = format!("@{}", file.display());
    let mut args = vec!["-s", "-S", "-o", download.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--data-binary", &body, target]);
    let out = curl(&args);
    out.assert_code(0);
    let echoed = std::fs::read(&download).unwrap();
    (out, echoed)
}

#[test]
fn chunked_upload_is_decoded() {
    let (dir, srv, port) = server(ECHO_HANDLER, "nil");
    let data = pseudo_random_bytes(300_000, 7);
    let (out, echoed) = upload(
        &dir,
        &data,
        &["-D", "-", "-H", "Transfer-Encoding: chunked"],
        &url(port, "/chunked"),
    );
    let head = parse_curl_i(format!("{}\r\n\r\n", out.stdout.trim_end()).as_bytes());
    assert_eq!(head.status, 200, "{}", out.stdout);
    assert_eq!(head.header("X-Saw-TE"), Some("chunked"));
    assert_eq!(head.header("X-Saw-CL"), Some("nil"));
    assert_eq!(head.header("X-Body-Length"), Some("300000"));
    assert_eq!(echoed.len(), data.len());
    assert!(echoed == data, "chunked body came back different");
    finish(srv);
}

#[test]
fn expect_100_continue_upload_succeeds() {
    let (dir, srv, port) = server(ECHO_HANDLER, "nil");
    let data = pseudo_random_bytes(1_500_000, 11);
    let (out, echoed) = upload(
        &dir,
        &data,
        &["-v", "-H", "Expect: 100-continue"],
        &url(port, "/continue"),
    );
    assert!(
        out.stderr.contains("< HTTP/1.1 100 Continue"),
        "server sent no 100 Continue:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("< HTTP/1.1 200"), "{}", out.stderr);
    assert!(
        out.stderr.contains("< X-Saw-Expect: 100-continue"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("< X-Body-Length: 1500000"),
        "{}",
        out.stderr
    );
    assert!(
        echoed == data,
        "body came back different ({} bytes)",
        echoed.len()
    );

    // The same by hand: the 100 must come before any body byte is sent.
    let mut stream = raw_connect(port);
    let body = b"0123456789";
    write!(
        stream,
        "POST /raw HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    )
    .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 100"), "first line {line:?}");
    let mut blank = String::new();
    std::io::BufRead::read_line(&mut reader, &mut blank).unwrap();
    assert_eq!(blank, "\r\n");
    stream.write_all(body).unwrap();
    let resp = read_http_response(&mut reader, false).unwrap().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, body);
    finish(srv);
}

#[test]
fn head_has_content_length_but_no_body() {
    let (_dir, srv, port) = server(
        r#"function(req) return 200, "0123456789abcdef", {["X-Method"] = req.method} end"#,
        "nil",
    );
    let out = curl(&["-s", "-S", "-I", &url(port, "/thing")]);
    out.assert_code(0);
    let resp = parse_curl_i(out.stdout.as_bytes());
    assert_eq!(resp.status, 200, "{}", out.stdout);
    assert_eq!(resp.header("Content-Length"), Some("16"), "{}", out.stdout);
    assert_eq!(resp.header("X-Method"), Some("HEAD"));
    assert!(resp.body.is_empty());

    // On the wire: HEAD then GET on one connection; the GET's status line must follow the HEAD's
    // blank line directly (no body bytes in between).
    let mut stream = raw_connect(port);
    stream
        .write_all(b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream);
    let head = read_http_response(&mut reader, true).unwrap().unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), Some("16"));
    let get = read_http_response(&mut reader, false).unwrap().unwrap();
    assert_eq!(get.status, 200, "{get:?}");
    assert_eq!(get.header("X-Method"), Some("GET"));
    assert_eq!(get.body_text(), "0123456789abcdef");
    finish(srv);
}

#[test]
fn five_megabyte_body_round_trip() {
    let (dir, srv, port) = server(ECHO_HANDLER, "nil");
    let data = pseudo_random_bytes(5 * 1024 * 1024, 42);
    let upload = dir.path().join("big.bin");
    std::fs::write(&upload, &data).unwrap();
    let download = dir.path().join("back.bin");
    let out = curl(&[
        "-s",
        "-S",
        "-D",
        "-",
        "-o",
        download.to_str().unwrap(),
        "--data-binary",
        &format!("@{}", upload.display()),
        &url(port, "/big"),
    ]);
    out.assert_code(0);
    // curl adds `Expect: 100-continue` by itself for a body this big: skip the interim answer.
    let head = parse_curl_i(format!("{}\r\n\r\n", out.stdout.trim_end()).as_bytes());
    assert_eq!(head.status, 200, "{}", out.stdout);
    let length = data.len().to_string();
    assert_eq!(
        head.header("X-Body-Length"),
        Some(length.as_str()),
        "{}",
        out.stdout
    );
    let echoed = std::fs::read(&download).unwrap();
    assert_eq!(echoed.len(), data.len());
    assert_eq!(fnv1a(&echoed), fnv1a(&data), "checksum differs");
    finish(srv);
}

#[test]
fn garbage_request_line_gets_400_and_close() {
    let (_dir, srv, port) = server(r#"function(req) return 200, "fine" end"#, "nil");
    let mut stream = raw_connect(port);
    stream.write_all(b"GARBAGE\r\n\r\n").unwrap();
    let (data, closed) = read_until_closed(&mut stream);
    let text = String::from_utf8_lossy(&data);
    assert!(text.starts_with("HTTP/1.1 400"), "got {text:?}");
    assert!(closed, "connection stayed open after 400: {text:?}");
    // The server goes on.
    let resp = curl_i(&[&url(port, "/")]);
    assert_eq!(resp.body_text(), "fine");
    finish(srv);
}

#[test]
fn oversized_header_gets_431() {
    let (_dir, srv, port) = server(r#"function(req) return 200, "fine" end"#, "nil");
    let big = format!("X-Big: {}", "x".repeat(20 * 1024));
    let out = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &big,
        &url(port, "/"),
    ]);
    assert_eq!(out.stdout.trim(), "431", "{out:?}");
    let resp = curl_i(&[&url(port, "/")]);
    assert_eq!(resp.body_text(), "fine");
    finish(srv);
}

#[test]
fn body_over_max_body_size_gets_413() {
    let (_dir, srv, port) = server(ECHO_HANDLER, "{max_body_size = 1000}");
    let body = "b".repeat(2000);
    let out = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--data-binary",
        &body,
        &url(port, "/"),
    ]);
    assert_eq!(out.stdout.trim(), "413", "{out:?}");
    // At the limit is fine.
    let body = "b".repeat(1000);
    let resp = curl_i(&["--data-binary", &body, &url(port, "/")]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("X-Body-Length"), Some("1000"));
    finish(srv);
}

#[test]
fn handler_error_answers_500_and_the_server_goes_on() {
    let (_dir, srv, port) = server(
        r#"function(req)
  if req.path == "/boom" then error("kaboom in handler") end
  return 200, "still here"
end"#,
        "nil",
    );
    let resp = curl_i(&[&url(port, "/boom")]);
    assert_eq!(resp.status, 500, "{resp:?}");
    let resp = curl_i(&[&url(port, "/ok")]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body_text(), "still here");
    let out = finish(srv);
    out.assert_stderr_contains("Error in HTTP handler")
        .assert_stderr_contains("kaboom in handler")
        .assert_stderr_contains("stack traceback");
}

#[test]
fn a_yielding_handler_does_not_block_other_connections() {
    // /slow sleeps in 0.3 s steps until /fast has been handled (at most 30 steps); /fast answers
    // at once. With a non-blocking server /fast completes first and /slow reports it saw it.
    let (_dir, mut srv, port) = server(
        r#"function(req)
  if req.path == "/slow" then
    print("slow started") io.stdout:flush()
    local steps = 0
    repeat
      _PY.sleep(0.3)
      steps = steps + 1
    until fast_done or steps >= 30
    return 200, "slow fast_done=" .. tostring(fast_done == true)
  end
  fast_done = true
  return 200, "fast"
end"#,
        "nil",
    );
    let order = Arc::new(Mutex::new(Vec::new()));
    let slow = {
        let order = Arc::clone(&order);
        thread::spawn(move || {
            let out = curl(&["-s", "-S", &url(port, "/slow")]);
            order.lock().unwrap().push("slow");
            out
        })
    };
    srv.wait_for_stdout("slow started");
    let fast = curl(&["-s", "-S", &url(port, "/fast")]);
    order.lock().unwrap().push("fast");
    let slow = slow.join().unwrap();
    fast.assert_code(0);
    slow.assert_code(0);
    assert_eq!(fast.stdout, "fast");
    assert_eq!(slow.stdout, "slow fast_done=true");
    assert_eq!(*order.lock().unwrap(), ["fast", "slow"]);
    finish(srv);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    // /a sleeps longest, /c not at all, so the handlers finish c, b, a; answers must be a, b, c.
    let (_dir, srv, port) = server(
        r#"function(req)
  local delay = tonumber(req.query.d) or 0
  if delay > 0 then _PY.sleep(delay) end
  print("done " .. req.path) io.stdout:flush()
  return 200, "answer " .. req.path
end"#,
        "nil",
    );
    let mut stream = raw_connect(port);
    stream
        .write_all(
            b"GET /a?d=0.6 HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /b?d=0.3 HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /c?d=0 HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let resp = read_http_response(&mut reader, false)
            .expect("read response")
            .expect("a response");
        assert_eq!(resp.status, 200);
        bodies.push(resp.body_text());
    }
    assert_eq!(bodies, ["answer /a", "answer /b", "answer /c"]);
    let out = finish(srv);
    let finished: Vec<&str> = out
        .lines()
        .into_iter()
        .filter(|line| line.starts_with("done "))
        .collect();
    eprintln!("pipelined handlers finished in the order {finished:?}");
    assert_eq!(finished.len(), 3, "{out:?}");
}

#[test]
fn http_1_0_without_keep_alive_is_closed_after_the_answer() {
    let (_dir, srv, port) = server(r#"function(req) return 200, "old school" end"#, "nil");
    let mut stream = raw_connect(port);
    stream.write_all(b"GET /old HTTP/1.0\r\n\r\n").unwrap();
    let (data, closed) = read_until_closed(&mut stream);
    let text = String::from_utf8_lossy(&data).into_owned();
    assert!(
        closed,
        "the server kept the HTTP/1.0 connection open: {text:?}"
    );
    let resp = parse_curl_i(text.as_bytes());
    assert_eq!(resp.status, 200, "{text:?}");
    assert_eq!(resp.header("Connection"), Some("close"), "{text:?}");
    assert_eq!(resp.body_text(), "old school");

    // HTTP/1.1 with `Connection: close` likewise.
    let mut stream = raw_connect(port);
    stream
        .write_all(b"GET /new HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (data, closed) = read_until_closed(&mut stream);
    let text = String::from_utf8_lossy(&data).into_owned();
    assert!(closed, "{text:?}");
    assert!(text.contains("Connection: close\r\n"), "{text:?}");
    finish(srv);
}

#[test]
fn stopping_the_server_from_a_handler_lets_the_process_exit() {
    let (_dir, srv, port) = server(
        r#"function(req)
  if req.path == "/stop" then
    print("stop", _PY.http_server_stop(server_id))
    print("again", _PY.http_server_stop(server_id))
    io.stdout:flush()
  end
  return 200, "answered " .. req.path
end"#,
        "nil",
    );
    let resp = curl_i(&[&url(port, "/hello")]);
    assert_eq!(resp.body_text(), "answered /hello");
    // The handler that stopped its server still answers (then the connection closes).
    let stop = curl_i(&[&url(port, "/stop")]);
    assert_eq!(stop.status, 200);
    assert_eq!(stop.body_text(), "answered /stop");
    assert_eq!(stop.header("connection"), Some("close"));
    let out = srv.finish(Duration::from_secs(10));
    out.assert_code(0).assert_no_panic();
    let port_line = format!("port={port}");
    assert_eq!(
        out.lines(),
        [port_line.as_str(), "stop\ttrue", "again\tfalse"],
        "{}",
        out.stderr
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "something still listens on the stopped server's port"
    );
}

#[test]
fn a_handler_that_stops_its_server_and_then_yields_still_answers() {
    let (_dir, srv, port) = server(
        r#"function(req)
  _PY.http_server_stop(server_id)
  _PY.sleep(0.2)
  return 200, "late answer"
end"#,
        "nil",
    );
    let resp = curl_i(&[&url(port, "/")]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body_text(), "late answer");
    let out = srv.finish(Duration::from_secs(10));
    out.assert_code(0).assert_no_panic();
}

#[test]
fn python_http_client_makes_100_requests_on_one_connection() {
    let (_dir, srv, port) = server(
        r#"function(req) return 200, req.query.i .. " " .. req.remote end"#,
        "nil",
    );
    let mut peer = python(
        r#"
import http.client, sys
c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=10)
remotes = set()
ok = 0
for i in range(100):
    c.request('GET', '/n?i=%d' % i)
    r = c.getresponse()
    body = r.read().decode()
    n, remote = body.split(' ')
    if r.status == 200 and n == str(i):
        ok += 1
    remotes.add(remote)
local = '127.0.0.1:%d' % c.sock.getsockname()[1]
print('ok', ok, 'remotes', len(remotes), 'same', remotes == {local}, flush=True)
c.close()
"#,
        &[&port.to_string()],
    );
    peer.wait_for_stdout("\n");
    let out = peer.finish(GUARD);
    out.assert_code(0);
    assert_eq!(
        out.lines(),
        ["ok 100 remotes 1 same True"],
        "{}",
        out.stderr
    );
    finish(srv);
}

#[test]
fn many_sequential_keep_alive_requests_keep_their_order_under_load() {
    // Two raw connections pipelining 20 requests each at once: every answer arrives on its own
    // connection, in order.
    let (_dir, srv, port) = server(
        r#"function(req)
  local n = tonumber(req.query.n)
  if n % 3 == 0 then _PY.sleep(0.01 * (n % 5)) end
  return 200, req.query.c .. ":" .. req.query.n
end"#,
        "nil",
    );
    let workers: Vec<_> = ["x", "y"]
        .into_iter()
        .map(|tag| {
            thread::spawn(move || {
                let mut stream = raw_connect(port);
                let mut all = String::new();
                for n in 0..20 {
                    all.push_str(&format!("GET /?c={tag}&n={n} HTTP/1.1\r\nHost: x\r\n\r\n"));
                }
                stream.write_all(all.as_bytes()).unwrap();
                let mut reader = BufReader::new(stream);
                (0..20)
                    .map(|_| {
                        read_http_response(&mut reader, false)
                            .unwrap()
                            .unwrap()
                            .body_text()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for (tag, worker) in ["x", "y"].into_iter().zip(workers) {
        let got = worker.join().unwrap();
        let want: Vec<String> = (0..20).map(|n| format!("{tag}:{n}")).collect();
        assert_eq!(got, want);
    }
    finish(srv);
}
