//! WebSocket clients and servers (`_PY.websocket_*`, `_PY.websocket_server_*`): a plua client
//! talking to a plua server over real sockets on 127.0.0.1 (messages, sizes, order, close
//! codes on both sides, broadcast, errors in callbacks), HTTP and WebSocket on one port, the
//! process lifetime, and `require("net")`'s wrappers. Argument checks and failures are in
//! websocket_errors.rs, Python peers and wss:// in websocket_peers.rs, bad peers in
//! websocket_abuse.rs.

mod support;

use std::time::Duration;

use support::{
    GUARD, Running, TempDir, assert_has_line, curl, parse_curl_i, run_script, start_http_server,
};

/// Lua: a WebSocket server `sid` on 127.0.0.1:0 (the bound port in `port`); exits on failure.
const START_SERVER: &str = r#"
local sid = _PY.websocket_server_create()
local function on(event, fn) _PY.websocket_server_add_event_listener(sid, event, fn) end
local function start()
  local ok, port = _PY.websocket_server_start(sid, "127.0.0.1", 0)
  assert(ok, port)
  return port
end
"#;

/// Lua: `client(url, handlers, headers)` creates and connects a client with the given
/// listeners and returns its id.
const CLIENT: &str = r#"
local function client(url, handlers, headers, opts)
  local id = _PY.websocket_client_create()
  for event, fn in pairs(handlers) do _PY.websocket_add_event_listener(id, event, fn) end
  assert(_PY.websocket_connect(id, url, headers, opts))
  return id
end
"#;

fn script(body: &str) -> String {
    format!("{START_SERVER}{CLIENT}{body}")
}

#[test]
fn text_and_one_megabyte_binary_round_trip_byte_for_byte() {
    let out = run_script(
        &script(
            r#"
-- 1 MiB of pseudo-random bytes, starting with every byte value once.
local parts = {}
for i = 0, 255 do parts[#parts + 1] = string.char(i) end
local x = 12345
for i = 257, 1024 * 1024 do
  x = (x * 1103515245 + 12345) % 2147483648
  parts[#parts + 1] = string.char((x >> 16) & 255)
end
local big = table.concat(parts)
local text = "hello, wörld ✓"

on("message", function(c, data, is_binary)
  if is_binary then
    print("server binary", #data, data == big)
  else
    print("server text", data, data == text)
  end
  _PY.websocket_server_send(sid, c, data, is_binary)
end)
on("client_disconnected", function(c, code) print("server saw close", code) _PY.websocket_server_close(sid) end)
local port = start()

local id
id = client("ws://127.0.0.1:" .. port .. "/data", {
  connected = function() assert(_PY.websocket_send(id, text)) end,
  dataReceived = function(data, is_binary)
    if not is_binary then
      print("client text", data, data == text)
      assert(_PY.websocket_send(id, big, true))
    else
      print("client binary", #data, data == big)
      _PY.websocket_close(id)
    end
  end,
  error = function(m) print("client error", m) end,
  disconnected = function(code) print("client closed", code) end,
})
"#,
        ),
        &[],
    );
    out.assert_code(0).assert_no_panic();
    assert_eq!(
        out.lines(),
        [
            "server text\thello, wörld ✓\ttrue",
            "client text\thello, wörld ✓\ttrue",
            "server binary\t1048576\ttrue",
            "client binary\t1048576\ttrue",
            "server saw close\t1000",
            "client closed\t1000",
        ],
        "{}",
        out.stderr
    );
}

#[test]
fn ten_thousand_small_messages_arrive_in_order_both_ways() {
    let out = run_script(
        &script(
            r#"
local N = 10000
local server_next, server_bad = 1, 0
on("message", function(c, data)
  if data ~= "m" .. server_next then server_bad = server_bad + 1 end
  server_next = server_next + 1
  _PY.websocket_server_send(sid, c, data)
end)
on("client_disconnected", function()
  print("server received", server_next - 1, "out of order", server_bad)
  _PY.websocket_server_close(sid)
end)
local port = start()

local id
local client_next, client_bad = 1, 0
id = client("ws://127.0.0.1:" .. port .. "/", {
  connected = function()
    for i = 1, N do assert(_PY.websocket_send(id, "m" .. i)) end
  end,
  dataReceived = function(data)
    if data ~= "m" .. client_next then client_bad = client_bad + 1 end
    client_next = client_next + 1
    if client_next > N then
      print("client received", client_next - 1, "out of order", client_bad)
      _PY.websocket_close(id)
    end
  end,
  error = function(m) print("client error", m) end,
})
"#,
        ),
        &[],
    );
    out.assert_code(0).assert_no_panic();
    assert_eq!(
        out.lines(),
        [
            "client received\t10000\tout of order\t0",
            "server received\t10000\tout of order\t0",
        ],
        "{}",
        out.stderr
    );
}

#[test]
fn close_codes_and_reasons_reach_both_sides() {
    // Client /a closes with 4000 "bye"; the server kicks client /b with 4001 "kicked".
    let out = run_script(
        &script(
            r#"
local names, gone = {}, 0
on("client_connected", function(c, req) names[c] = req.path end)
on("message", function(c, data)
  if names[c] == "/b" then _PY.websocket_server_disconnect(sid, c, 4001, "kicked") end
end)
on("client_disconnected", function(c, code, reason)
  print("server saw", names[c], code, reason)
  gone = gone + 1
  if gone == 2 then _PY.websocket_server_close(sid) end
end)
local port = start()
local base = "ws://127.0.0.1:" .. port

local a, b
a = client(base .. "/a", {
  connected = function() _PY.websocket_close(a, 4000, "bye") end,
  disconnected = function(code, reason)
    print("a disconnected", code, reason, _PY.websocket_is_open(a))
  end,
})
b = client(base .. "/b", {
  connected = function() print("b open", _PY.websocket_is_open(b)) _PY.websocket_send(b, "kick me") end,
  disconnected = function(code, reason)
    print("b disconnected", code, reason, _PY.websocket_is_open(b))
    print("b send after close", _PY.websocket_send(b, "late"))
  end,
})
"#,
        ),
        &[],
    );
    out.assert_code(0).assert_no_panic();
    for line in [
        "server saw\t/a\t4000\tbye",
        "a disconnected\t4000\tbye\tfalse",
        "b open\ttrue",
        "server saw\t/b\t4001\tkicked",
        "b disconnected\t4001\tkicked\tfalse",
    ] {
        assert_has_line(&out, line);
    }
    let late = out
        .lines()
        .into_iter()
        .find(|l| l.starts_with("b send after close"))
        .expect("send after close printed");
    assert!(late.starts_with("b send after close\tfalse\t"), "{late}");
    assert_eq!(out.lines().len(), 6, "{}", out.stdout);
}

#[test]
fn broadcast_reaches_every_client_and_server_close_sends_1001() {
    let out = run_script(
        &script(
            r#"
local N = 3
local connected, acks = 0, 0
on("client_connected", function()
  connected = connected + 1
  if connected == N then print("broadcast to", _PY.websocket_server_broadcast(sid, "news")) end
end)
on("message", function(c, data)
  print("server got", data)
  acks = acks + 1
  if acks == N then print("server close", _PY.websocket_server_close(sid)) end
end)
local port = start()

for i = 1, N do
  local id
  id = client("ws://127.0.0.1:" .. port .. "/" .. i, {
    dataReceived = function(data) _PY.websocket_send(id, "ack " .. data) end,
    disconnected = function(code) print("client disconnected", code) end,
    error = function(m) print("client error", m) end,
  })
end
"#,
        ),
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    let count = |l: &str| lines.iter().filter(|x| **x == l).count();
    assert_eq!(count("broadcast to\t3"), 1, "{}", out.stdout);
    assert_eq!(count("server got\tack news"), 3, "{}", out.stdout);
    assert_eq!(count("server close\ttrue"), 1, "{}", out.stdout);
    assert_eq!(count("client disconnected\t1001"), 3, "{}", out.stdout);
    assert_eq!(lines.len(), 8, "{}", out.stdout);
}

#[test]
fn handshake_headers_path_and_query_reach_the_server() {
    let out = run_script(
        &script(
            r#"
on("client_connected", function(c, req)
  print("path", req.path)
  print("query", type(req.query) == "table" and req.query.room or "not a table")
  print("x-token", req.headers["x-token"])
  print("x-other", req.headers["x-other"])
  print("upgrade", req.headers["upgrade"])
  print("remote", (tostring(req.remote):match("^127%.0%.0%.1:%d+$")))
  _PY.websocket_server_disconnect(sid, c)
end)
on("client_disconnected", function() _PY.websocket_server_close(sid) end)
local port = start()
client("ws://127.0.0.1:" .. port .. "/chat?room=42",
  { disconnected = function(code) print("closed", code) end },
  { ["X-Token"] = "secret-42", ["X-Other"] = "two words" })
"#,
        ),
        &[],
    );
    out.assert_code(0).assert_no_panic();
    for line in [
        "path\t/chat",
        "x-token\tsecret-42",
        "x-other\ttwo words",
        "closed\t1000",
    ] {
        assert_has_line(&out, line);
    }
    let query = out.lines().into_iter().find(|l| l.starts_with("query\t"));
    assert!(query == Some("query\t42"), "{query:?}");
    let upgrade = out.lines().into_iter().find(|l| l.starts_with("upgrade\t"));
    assert!(
        upgrade.is_some_and(|l| l.eq_ignore_ascii_case("upgrade\twebsocket")),
        "{upgrade:?}"
    );
    assert!(
        out.lines()
            .iter()
            .any(|l| l.starts_with("remote\t127.0.0.1:")),
        "{}",
        out.stdout
    );
}

#[test]
fn errors_in_callbacks_are_reported_and_the_connection_goes_on() {
    let out = run_script(
        &script(
            r#"
local count = 0
on("message", function(c, data)
  count = count + 1
  if count == 1 then error("boom in server message") end
  _PY.websocket_server_send(sid, c, "second ok: " .. data)
end)
on("client_disconnected", function() _PY.websocket_server_close(sid) end)
local port = start()
local id
id = client("ws://127.0.0.1:" .. port .. "/", {
  connected = function() _PY.websocket_send(id, "one") _PY.websocket_send(id, "two") end,
  dataReceived = function(data)
    print(data)
    _PY.websocket_close(id)
    error("boom in dataReceived")
  end,
})
"#,
        ),
        &[],
    );
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.lines(), ["second ok: two"], "{}", out.stderr);
    out.assert_stderr_contains("boom in server message")
        .assert_stderr_contains("boom in dataReceived")
        .assert_stderr_contains("Error in")
        .assert_stderr_contains("traceback");
}

#[test]
fn http_and_websocket_share_one_port() {
    let (_dir, server, port) = start_http_server(
        r#"
local sid = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(sid, "message", function(c, data)
  _PY.websocket_server_send(sid, c, "ws:" .. data)
end)
local id, port = _PY.http_server_start("127.0.0.1", 0, function(req)
  return 200, "http " .. req.method .. " " .. req.path
end, { websocket = { ["/ws"] = sid } })
assert(id, port)
print("port=" .. port)
io.stdout:flush()
"#,
    );
    let get = |path: &str| {
        let out = curl(&["-s", "-i", &format!("http://127.0.0.1:{port}{path}")]);
        out.assert_code(0);
        parse_curl_i(out.stdout.as_bytes())
    };
    let root = get("/");
    assert_eq!(
        (root.status, root.body_text().as_str()),
        (200, "http GET /")
    );
    // A plain GET of the WebSocket path is the handler's too.
    let plain_ws = get("/ws");
    assert_eq!(
        (plain_ws.status, plain_ws.body_text().as_str()),
        (200, "http GET /ws")
    );
    let out = run_script(
        &format!(
            "{CLIENT}{}",
            r#"
local port = arg[1]
local id
id = client("ws://127.0.0.1:" .. port .. "/ws", {
  connected = function() _PY.websocket_send(id, "ping") end,
  dataReceived = function(data) print("got", data) _PY.websocket_close(id) end,
  disconnected = function(code) print("closed", code) end,
  error = function(m) print("error", m) end,
})
-- An upgrade on a path without a WebSocket route is answered by the HTTP handler instead.
local other = _PY.websocket_client_create()
_PY.websocket_add_event_listener(other, "error", function(m) print("other error", m) end)
_PY.websocket_add_event_listener(other, "connected", function() print("other connected?!") end)
_PY.websocket_connect(other, "ws://127.0.0.1:" .. port .. "/elsewhere")
"#
        ),
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "got\tws:ping");
    assert_has_line(&out, "closed\t1000");
    let other = out
        .lines()
        .into_iter()
        .find(|l| l.starts_with("other error\t"))
        .unwrap_or_else(|| panic!("{}", out.stdout))
        .to_owned();
    assert!(other.contains("handshake failed"), "{other}");
    // The HTTP side still answers afterwards.
    assert_eq!(get("/again").body_text(), "http GET /again");
    server.kill_and_collect().assert_no_panic();
}

#[test]
fn plain_http_request_to_a_websocket_server_gets_426() {
    let (_dir, server, port) = start_http_server(&format!(
        "{START_SERVER}{}",
        r#"
on("message", function(c, data) _PY.websocket_server_send(sid, c, data) end)
print("port=" .. start())
io.stdout:flush()
"#
    ));
    let out = curl(&["-s", "-i", &format!("http://127.0.0.1:{port}/")]);
    out.assert_code(0);
    assert_eq!(parse_curl_i(out.stdout.as_bytes()).status, 426);
    // The server goes on serving WebSocket clients.
    let out = run_script(
        &format!(
            "{CLIENT}{}",
            r#"
local id
id = client("ws://127.0.0.1:" .. arg[1] .. "/", {
  connected = function() _PY.websocket_send(id, "still here") end,
  dataReceived = function(data) print("got", data) _PY.websocket_close(id) end,
  error = function(m) print("error", m) end,
})
"#
        ),
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "got\tstill here");
    server.kill_and_collect().assert_no_panic();
}

#[test]
fn an_open_client_keeps_the_process_alive_until_it_is_closed() {
    // The server kicks every other client when one connects to /kick, then closes itself once
    // the kicked ones are gone: both processes must then exit 0 on their own.
    let (_dir, mut server, port) = start_http_server(&format!(
        "{START_SERVER}{}",
        r#"
local paths = {}
on("client_connected", function(c, req)
  paths[c] = req.path
  if req.path == "/kick" then
    for other, path in pairs(paths) do
      if path ~= "/kick" then _PY.websocket_server_disconnect(sid, other, 4002, "time's up") end
    end
    _PY.websocket_server_disconnect(sid, c)
  end
end)
on("client_disconnected", function(c)
  paths[c] = nil
  if next(paths) == nil then print("server done") _PY.websocket_server_close(sid) end
end)
print("port=" .. start())
io.stdout:flush()
"#
    ));
    let dir = TempDir::new();
    dir.write(
        "client.lua",
        r#"
local id = _PY.websocket_client_create()
_PY.websocket_add_event_listener(id, "connected", function() print("connected") io.stdout:flush() end)
_PY.websocket_add_event_listener(id, "disconnected", function(code, reason) print("disconnected", code, reason) end)
_PY.websocket_connect(id, "ws://127.0.0.1:" .. arg[1] .. "/idle")
"#,
    );
    let mut client = Running::script_with_args(&dir, "client.lua", &[&port.to_string()]);
    client.wait_for_stdout("connected");
    // Nothing but the open connection is left in the client; it must still be running.
    std::thread::sleep(Duration::from_millis(500));
    assert!(client.is_running(), "{}", client.stderr_text());
    assert!(server.is_running(), "{}", server.stderr_text());

    let kicker = run_script(
        r#"
local id = _PY.websocket_client_create()
_PY.websocket_add_event_listener(id, "disconnected", function(code) print("kicker closed", code) end)
_PY.websocket_connect(id, "ws://127.0.0.1:" .. arg[1] .. "/kick")
"#,
        &[&port.to_string()],
    );
    kicker.assert_code(0).assert_no_panic();
    assert_has_line(&kicker, "kicker closed\t1000");

    let out = client.finish(GUARD);
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "disconnected\t4002\ttime's up");
    server.wait_for_stdout("server done");
    let out = server.finish(GUARD);
    out.assert_code(0).assert_no_panic();
}

#[test]
fn net_websocket_client_and_echo_server() {
    let out = run_script(
        r#"
local net = require("net")
local echo = net.WebSocketEchoServer("127.0.0.1", 0)
print("echo port", type(echo.port), echo.port > 0)

-- A WebSocketServer with handlers: greets, answers, closes with a code.
local server = net.WebSocketServer()
local ok, port = server:start("127.0.0.1", 0, {
  connected = function(client, request) client:send("welcome to " .. request.path) end,
  message = function(client, data) client:close(4005, "done with " .. data) end,
  disconnected = function(client, code, reason)
    print("server saw", code, reason)
    server:stop()
  end,
})
print("server start", ok, port == server.port)

local ws = net.WebSocketClient({ timeout = 5000 })
local bytes = "\0\1\2\255binary"
ws:addEventListener("connected", function()
  print("echo connected", ws:isOpen())
  ws:send("text message")
  ws:send(bytes, true)
end)
local got = 0
ws:addEventListener("dataReceived", function(data, is_binary)
  got = got + 1
  if got == 1 then print("echo text", data, is_binary) end
  if got == 2 then
    print("echo binary", data == bytes, is_binary)
    ws:close()
  end
end)
ws:addEventListener("disconnected", function(code)
  print("echo closed", code, ws:isOpen())
  echo:stop()
end)
ws:connect("ws://127.0.0.1:" .. echo.port .. "/")

local tls = net.WebSocketClientTls()
tls:addEventListener("dataReceived", function(data) print("tls client got", data) tls:send("x") end)
tls:addEventListener("disconnected", function(code, reason) print("tls client closed", code, reason) end)
tls:connect("ws://127.0.0.1:" .. port .. "/room")
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    for line in [
        "echo port\tnumber\ttrue",
        "server start\ttrue\ttrue",
        "echo connected\ttrue",
        "echo text\tEcho text message\tfalse",
        "echo binary\ttrue\ttrue",
        "echo closed\t1000\tfalse",
        "tls client got\twelcome to /room",
        "server saw\t4005\tdone with x",
        "tls client closed\t4005\tdone with x",
    ] {
        assert_has_line(&out, line);
    }
}
