//! The original plua's web-server family (`start_web_server` & co.) and `net.HTTPServer`, on
//! top of the embedded HTTP server: requests from curl reach the callback, the default answer is
//! the original's, and a running web server keeps the process alive until stopped.

mod support;

use support::{Running, TempDir, curl, plua};

fn start(dir: &TempDir, src: &str) -> (Running, u16) {
    dir.write("web.lua", src);
    let mut cmd = plua();
    cmd.arg("web.lua").current_dir(dir.path());
    let mut server = Running::start(cmd, false);
    let line = server.line_after("port=");
    let port = line.trim().parse().expect("port");
    (server, port)
}

#[test]
fn web_server_family_calls_the_callback_and_answers_like_the_original() {
    let dir = TempDir::new();
    let (server, port) = start(
        &dir,
        r#"
local ok, message = _PY.start_web_server(0)
assert(ok, message)
assert(_PY.is_web_server_running())
local status = _PY.get_web_server_status()
print("port=" .. status.port)
_PY.register_web_callback("http_request", function(m)
  print("seen", m.method, m.path, m.query.a[1], m.body.k)
  if m.path == "/stop" then
    setTimeout(function() print(_PY.stop_web_server()) end, 50)
    return 200, "stopping"
  end
end)
io.stdout:flush()
"#,
    );
    let out = curl(&[
        "-s",
        "-d",
        r#"{"k":"v"}"#,
        &format!("http://127.0.0.1:{port}/x?a=1"),
    ]);
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        r#"{"message":"Request received and queued","status":"received"}"#
    );
    let out = curl(&[
        "-s",
        "-d",
        r#"{"k":"w"}"#,
        &format!("http://127.0.0.1:{port}/stop?a=2"),
    ]);
    assert_eq!(out.stdout, "stopping");
    let finished = server.finish(std::time::Duration::from_secs(10));
    finished.assert_code(0).assert_no_panic();
    assert!(
        finished.stdout.contains("seen\tPOST\t/x\t1\tv"),
        "{}",
        finished.stdout
    );
    assert!(
        finished.stdout.contains("true\tWeb server stopped"),
        "{}",
        finished.stdout
    );
}

#[test]
fn messages_queue_without_a_callback() {
    let dir = TempDir::new();
    let (server, port) = start(
        &dir,
        r#"
assert(_PY.start_web_server(0))
print("port=" .. _PY.get_web_server_status().port)
io.stdout:flush()
local function poll()
  local m = _PY.get_web_server_message()
  if m then
    print("queued", m.type, m.method, m.path)
    _PY.stop_web_server()
  else
    setTimeout(poll, 20)
  end
end
poll()
"#,
    );
    let out = curl(&["-s", &format!("http://127.0.0.1:{port}/queued")]);
    assert!(out.stdout.contains("received"), "{}", out.stdout);
    let finished = server.finish(std::time::Duration::from_secs(10));
    finished.assert_code(0).assert_no_panic();
    assert!(
        finished
            .stdout
            .contains("queued\thttp_request\tGET\t/queued"),
        "{}",
        finished.stdout
    );
}

#[test]
fn net_http_server_passes_method_path_body_and_headers() {
    let dir = TempDir::new();
    let (server, port) = start(
        &dir,
        r#"
local net = require("net")
local server = net.HTTPServer()
local ok, port = server:start("localhost", 0, function(method, path, body, headers)
  if path == "/bye" then setTimeout(function() server:stop() end, 50) end
  return { method = method, path = path, body = body, agent = headers["x-test"] }, 201
end)
assert(ok, port)
print("port=" .. port)
io.stdout:flush()
"#,
    );
    let out = curl(&[
        "-s",
        "-i",
        "-H",
        "X-Test: yes",
        "-d",
        "hello",
        &format!("http://127.0.0.1:{port}/p?z=9"),
    ]);
    assert!(out.stdout.starts_with("HTTP/1.1 201"), "{}", out.stdout);
    assert!(out.stdout.contains("application/json"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains(r#"{"agent":"yes","body":"hello","method":"POST","path":"/p?z=9"}"#),
        "{}",
        out.stdout
    );
    let _ = curl(&["-s", &format!("http://127.0.0.1:{port}/bye")]);
    server
        .finish(std::time::Duration::from_secs(10))
        .assert_code(0)
        .assert_no_panic();
}
