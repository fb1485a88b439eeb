//! WebSocket clients give everything back when closed: 10,000 clients created, connected to a
//! local plua WebSocket server and closed (eight at a time) leave the process's resident memory
//! and Lua heap where they were after the first 500, both through `_PY.websocket_*` and through
//! `net.WebSocketClient`, which can still connect again after `close`.

mod support;

use support::{Running, TempDir};

const SERVER: &str = r#"
local srv = _PY.websocket_server_create()
local ok, port = _PY.websocket_server_start(srv, "127.0.0.1", 0)
print("port=" .. port) io.stdout:flush()
"#;

/// Lua client: `arg[1]` port, `arg[2]` "raw" or "net". Prints `warm <rss KiB> <Lua KiB>` after
/// 500 clients and `end <rss KiB> <Lua KiB>` after 10,000 (each after a full collection).
const CLIENTS: &str = r#"
local net = require("net")
local port, style, total = tonumber(arg[1]), arg[2], 10000
local url = "ws://127.0.0.1:" .. port .. "/"
local function measure(label)
  collectgarbage() collectgarbage()
  local status = io.open("/proc/self/status"):read("a")
  print(label, status:match("VmRSS:%s*(%d+)"), math.floor(collectgarbage("count")))
end
local done = 0
local function finished()
  done = done + 1
  if done == 500 then measure("warm") end
  if done == total then measure("end") end
end
local function one(i)
  if i > total then return end
  if style == "raw" then
    local id = _PY.websocket_client_create()
    _PY.websocket_add_event_listener(id, "connected", function() _PY.websocket_close(id) end)
    _PY.websocket_add_event_listener(id, "error", function(m) print("error", m) end)
    _PY.websocket_add_event_listener(id, "disconnected", function() finished() one(i + 8) end)
    _PY.websocket_connect(id, url)
  else
    local ws = net.WebSocketClient()
    ws:addEventListener("connected", function() ws:close() end)
    ws:addEventListener("error", function(m) print("error", m) end)
    ws:addEventListener("disconnected", function() finished() one(i + 8) end)
    ws:connect(url)
  end
end
for i = 1, 8 do one(i) end
"#;

fn start_server() -> (TempDir, Running, String) {
    let dir = TempDir::new();
    dir.write("server.lua", SERVER);
    dir.write("clients.lua", CLIENTS);
    let mut server = Running::script_with_args(&dir, "server.lua", &[]);
    let port = server.line_after("port=");
    (dir, server, port)
}

fn numbers(line: &str) -> (u64, u64) {
    let mut fields = line
        .split('\t')
        .map(|field| field.parse::<u64>().expect("number"));
    (fields.next().expect("rss"), fields.next().expect("lua"))
}

fn assert_memory_flat(style: &str) {
    let (dir, server, port) = start_server();
    let mut clients = Running::script_with_args(&dir, "clients.lua", &[&port, style]);
    let (warm_rss, warm_lua) = numbers(&clients.line_after("warm\t"));
    let (end_rss, end_lua) = numbers(&clients.line_after("end\t"));
    let out = clients.finish(std::time::Duration::from_secs(60));
    drop(server);
    out.assert_code(0).assert_no_panic();
    assert!(!out.stdout.contains("error"), "{}", out.stdout);
    eprintln!("{style}: RSS {warm_rss} -> {end_rss} KiB, Lua {warm_lua} -> {end_lua} KiB");
    assert!(
        end_rss * 10 <= warm_rss * 11,
        "{style}: RSS grew from {warm_rss} to {end_rss} KiB over 9,500 clients"
    );
    assert!(
        end_lua * 10 <= warm_lua * 11 + 640,
        "{style}: the Lua heap grew from {warm_lua} to {end_lua} KiB over 9,500 clients"
    );
}

#[test]
fn ten_thousand_closed_py_websocket_clients_leave_memory_flat() {
    assert_memory_flat("raw");
}

#[test]
fn ten_thousand_closed_net_websocket_clients_leave_memory_flat() {
    assert_memory_flat("net");
}

#[test]
fn a_net_websocket_client_connects_again_after_close_and_a_py_client_id_is_released() {
    let (dir, server, port) = start_server();
    dir.write(
        "again.lua",
        r#"
local net = require("net")
local url = "ws://127.0.0.1:" .. arg[1] .. "/"
local ws, rounds = net.WebSocketClient(), 0
ws:addEventListener("connected", function() rounds = rounds + 1 print("connected", rounds) ws:close() end)
ws:addEventListener("disconnected", function(code)
  print("disconnected", code)
  if rounds == 1 then ws:connect(url) end
end)
ws:connect(url)
local id = _PY.websocket_client_create()
print("idle close", _PY.websocket_close(id))
print("reuse", _PY.websocket_connect(id, url) == false)
"#,
    );
    let out = Running::script_with_args(&dir, "again.lua", &[&port])
        .finish(std::time::Duration::from_secs(20));
    drop(server);
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "idle close\tfalse",
        "reuse\ttrue",
        "connected\t1",
        "disconnected\t1000",
        "connected\t2",
        "disconnected\t1000",
    ]);
}
