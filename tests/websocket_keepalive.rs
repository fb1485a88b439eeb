//! Upgraded WebSocket connections on a server: the idle timeout (nothing received for
//! `idle_timeout` closes with 1001 "idle timeout"; messages keep a connection alive), the
//! automatic ping (`ping_interval`: a quiet peer is pinged, and its pongs keep it alive past the
//! idle timeout) and the ping timeout (a peer that does not answer within `ping_timeout` is
//! dropped, reported as 1006 "ping timeout"). The peer is Python `websockets`; for the last
//! case its automatic pong is switched off.

mod support;

use support::{GUARD, python_ws, start_http_server};

/// A WebSocket echo server with `opts`, reporting disconnects as `disconnected CODE REASON`.
fn server(opts: &str) -> (support::TempDir, support::Running, u16) {
    start_http_server(&format!(
        r#"
local ws = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(ws, "message", function(client, data)
  _PY.websocket_server_send(ws, client, data)
end)
_PY.websocket_server_add_event_listener(ws, "client_disconnected", function(client, code, reason)
  print("disconnected " .. code .. " " .. reason) io.stdout:flush()
end)
local ok, port = _PY.websocket_server_start(ws, "127.0.0.1", 0, {opts})
print("port=" .. port) io.stdout:flush()
"#
    ))
}

/// Python prelude: `url`, `pings` (counted as they arrive), `say(...)`.
const PRELUDE: &str = r#"
import asyncio, sys, time, websockets
from websockets.legacy.protocol import WebSocketCommonProtocol
url = "ws://127.0.0.1:%s/" % sys.argv[1]
pings = [0]
answer_pings = sys.argv[2] == "answer"
original_pong = WebSocketCommonProtocol.pong
async def pong(self, data=b""):
    pings[0] += 1
    if answer_pings:
        await original_pong(self, data)
WebSocketCommonProtocol.pong = pong
def say(*args):
    print(*args, flush=True)
"#;

fn run_client(port: u16, answer: &str, body: &str) -> support::Output {
    let code = format!(
        "{PRELUDE}\nasync def main():\n{body}\nasyncio.run(asyncio.wait_for(main(), 15))\n"
    );
    python_ws(&code, &[&port.to_string(), answer]).finish(GUARD)
}

#[test]
fn a_quiet_connection_is_closed_after_the_idle_timeout_and_a_chatty_one_is_not() {
    let (_dir, server, port) = server("{idle_timeout = 0.6, ping_interval = 0}");
    let py = run_client(
        port,
        "answer",
        r#"
    chatty = await websockets.connect(url, ping_interval=None)
    quiet = await websockets.connect(url, ping_interval=None)
    start = time.monotonic()
    # Messages every 0.2 s for 1.5 s keep `chatty` open past the idle timeout.
    while time.monotonic() - start < 1.5:
        await chatty.send("hi")
        assert await chatty.recv() == "hi"
        await asyncio.sleep(0.2)
    say("chatty open", chatty.open)
    try:
        await quiet.recv()
    except websockets.exceptions.ConnectionClosed:
        pass
    say("quiet closed", quiet.close_code, quiet.close_reason)
    await chatty.close()
"#,
    );
    py.assert_code(0);
    py.assert_lines(&["chatty open True", "quiet closed 1001 idle timeout"]);
    let out = server.kill_and_collect();
    out.assert_no_panic();
    out.assert_stdout_contains("disconnected 1001 idle timeout");
}

#[test]
fn pings_keep_a_quiet_peer_that_answers_them_alive_past_the_idle_timeout() {
    let (_dir, server, port) =
        server("{idle_timeout = 1, ping_interval = 0.2, ping_timeout = 0.8}");
    let py = run_client(
        port,
        "answer",
        r#"
    ws = await websockets.connect(url, ping_interval=None)
    await asyncio.sleep(2.5)
    say("open", ws.open, "pinged", pings[0] >= 3)
    await ws.send("still here")
    say("echo", await ws.recv())
    await ws.close()
"#,
    );
    py.assert_code(0);
    py.assert_lines(&["open True pinged True", "echo still here"]);
    server.kill_and_collect().assert_no_panic();
}

#[test]
fn a_peer_that_does_not_answer_pings_is_dropped_after_the_ping_timeout() {
    let (_dir, mut server, port) =
        server("{idle_timeout = 30, ping_interval = 0.2, ping_timeout = 0.5}");
    let py = run_client(
        port,
        "ignore",
        r#"
    ws = await websockets.connect(url, ping_interval=None, close_timeout=1)
    start = time.monotonic()
    try:
        while True:
            await ws.recv()
    except websockets.exceptions.ConnectionClosed:
        pass
    say("dropped", ws.close_code in (1006, 1011), "pinged", pings[0] >= 1)
    say("within", time.monotonic() - start < 10)
"#,
    );
    py.assert_code(0);
    py.assert_lines(&["dropped True pinged True", "within True"]);
    server.wait_for_stdout("disconnected 1006 ping timeout");
    server.kill_and_collect().assert_no_panic();
}
