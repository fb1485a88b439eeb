//! net.WebSocketServer as the original's scripts use it: the server exists from the
//! constructor, `receive(client, msg)` handlers, client values that act as integer ids,
//! `conn_id` on clients, and the echo server's "Echo " answer (a loopback port of the
//! original's WebSocket server example).

mod support;

use support::run_script;

#[test]
fn a_server_with_the_original_handler_names_and_id_like_clients() {
    let out = run_script(
        r#"
local net = require("net")
local server = net.WebSocketServer()
print("server id before start", math.type(server.server_id))
local seen = {}
local ok, port = server:start("127.0.0.1", 0, {
  connected = function(client)
    seen[client] = "connected"
    print("connected", tostring(client) == tostring(client.id), "client " .. client == "client " .. client.id,
      client.conn_id == client.id)
  end,
  receive = function(client, msg)
    print("receive", msg, seen[client])
    server:send(client, "got " .. msg)
  end,
  disconnected = function(client)
    print("disconnected", seen[client])
    server:stop()
  end,
})
print("start", ok, port == server.port)

local ws = net.WebSocketClient()
print("client conn_id", ws.conn_id == ws.id, math.type(ws.conn_id))
ws:addEventListener("connected", function() ws:send("hello") end)
ws:addEventListener("dataReceived", function(data)
  print("client got", data)
  ws:close()
end)
ws:connect("ws://127.0.0.1:" .. port .. "/")
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    for expected in [
        "server id before start\tinteger",
        "start\ttrue\ttrue",
        "client conn_id\ttrue\tinteger",
        "connected\ttrue\ttrue\ttrue",
        "receive\thello\tconnected",
        "client got\tgot hello",
        "disconnected\tconnected",
    ] {
        assert!(
            lines.contains(&expected),
            "{expected:?} missing in {lines:?}\n{}",
            out.stderr
        );
    }
}

#[test]
fn the_echo_server_answers_with_echo_and_the_message() {
    let out = run_script(
        r#"
local net = require("net")
local echo = net.WebSocketEchoServer("127.0.0.1", 0)
local ws = net.WebSocketClient()
ws:addEventListener("connected", function() ws:send("hi there") end)
ws:addEventListener("dataReceived", function(data, is_binary)
  print("got", data, is_binary)
  ws:close()
end)
ws:addEventListener("disconnected", function() echo:stop() end)
ws:connect("ws://127.0.0.1:" .. echo.port .. "/")
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["got\tEcho hi there\tfalse"]);
}
