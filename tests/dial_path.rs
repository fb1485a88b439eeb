//! The one dial path (name lookup on the worker pool → connect → plain or TLS) as every client
//! kind sees it: the HTTP client, TCP connects and WebSocket clients reach a server through a
//! host name that needs a real lookup (a loopback alias from /etc/hosts, no network), and a
//! name that does not resolve gives each of them the same clear "cannot resolve host" message.

mod support;

use support::run_script;

/// A name other than `localhost` that `/etc/hosts` maps to 127.0.0.1 (so resolving it needs
/// getaddrinfo, but no network).
fn loopback_alias() -> String {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    hosts
        .lines()
        .filter_map(|line| line.split('#').next())
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|fields| fields.first() == Some(&"127.0.0.1"))
        .flat_map(|fields| {
            fields[1..]
                .iter()
                .map(|name| name.to_string())
                .collect::<Vec<_>>()
        })
        .find(|name| !name.eq_ignore_ascii_case("localhost") && !name.contains("localhost"))
        .expect("/etc/hosts maps some name other than localhost to 127.0.0.1")
}

/// Lua: HTTP, WebSocket and TCP servers on 127.0.0.1, then one client of each kind connecting
/// to `arg[1]` (the name under test) and printing what it got.
const CLIENTS: &str = r#"
local NAME = arg[1]
local http_id, http_port = _PY.http_server_start("127.0.0.1", 0, function(req)
  return 200, "hello " .. req.path
end)
assert(http_id, http_port)
local sid = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(sid, "message", function(c, data)
  _PY.websocket_server_send(sid, c, "echo " .. data)
end)
local ws_ok, ws_port = _PY.websocket_server_start(sid, "127.0.0.1", 0)
assert(ws_ok, ws_port)
local tcp = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(tcp, "client_connected", function(client)
  _PY.tcp_write(client, "hi\n")
end)
local tcp_ok, _, tcp_port = _PY.tcp_server_start(tcp, "127.0.0.1", 0)
assert(tcp_ok)

local function resolved(message)
  return tostring(message):find("cannot resolve host '" .. NAME .. "'", 1, true) ~= nil
end

local r = _PY.http_request_sync("http://" .. NAME .. ":" .. http_port .. "/x")
print("http", r.code, r.body, resolved(r.error_message))
local ok, id, msg = _PY.tcp_connect_sync(NAME, tcp_port, {timeout = 10})
print("tcp", ok, resolved(msg))
if ok then
  local _, data = _PY.tcp_read_sync(id, 3)
  print("tcp read", data)
end
local c = _PY.websocket_client_create()
_PY.websocket_add_event_listener(c, "connected", function() _PY.websocket_send(c, "ping") end)
_PY.websocket_add_event_listener(c, "dataReceived", function(data)
  print("ws", data)
  os.exit(0)
end)
_PY.websocket_add_event_listener(c, "error", function(message)
  print("ws error", resolved(message))
  os.exit(0)
end)
assert(_PY.websocket_connect(c, "ws://" .. NAME .. ":" .. ws_port .. "/"))
"#;

#[test]
fn every_client_kind_reaches_a_server_through_a_looked_up_name() {
    let name = loopback_alias();
    let out = run_script(CLIENTS, &[&name]);
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "http\t200\thello /x\tfalse",
        "tcp\ttrue\tfalse",
        "tcp read\thi",
        "ws\techo ping",
    ]);
}

#[test]
fn every_client_kind_reports_a_name_that_does_not_resolve_the_same_way() {
    let out = run_script(CLIENTS, &["no-such-host.invalid"]);
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "http\t0\t\ttrue",
        "tcp\tfalse\ttrue",
        "ws error\ttrue",
    ]);
}
