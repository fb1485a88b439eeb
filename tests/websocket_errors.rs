//! The WebSocket API's argument checks (Lua errors naming the function and argument) and its
//! failures reported as return values or `error` events: bad URLs, refused connections, sends
//! on unconnected clients, a busy port, unknown ids. Every script must still exit 0 by itself.

mod support;

use support::{assert_has_line, run_script};

/// Lua: `try(f)` prints what `pcall(f)` returns, one call per line of the script.
const BAD_CALLS: &str = r#"
local id = _PY.websocket_client_create()
local sid = _PY.websocket_server_create()
local function try(f) local ok, err = pcall(f) print(ok, err) end
try(function() _PY.websocket_send(id, {}) end)
try(function() _PY.websocket_send("x", "data") end)
try(function() _PY.websocket_connect(id, 42) end)
try(function() _PY.websocket_connect(id, "ws://127.0.0.1:1/", "headers") end)
try(function() _PY.websocket_connect(id, "ws://127.0.0.1:1/", nil, 5) end)
try(function() _PY.websocket_add_event_listener(id, "bogus", print) end)
try(function() _PY.websocket_add_event_listener(id, "connected", 1) end)
try(function() _PY.websocket_close(id, 99) end)
try(function() _PY.websocket_close(id, "normal") end)
try(function() _PY.websocket_is_open(nil) end)
try(function() _PY.websocket_server_start(sid, 1, 0) end)
try(function() _PY.websocket_server_start(sid, "127.0.0.1", "eighty") end)
try(function() _PY.websocket_server_send(sid, "c", "x") end)
try(function() _PY.websocket_server_broadcast(sid, nil) end)
try(function() _PY.websocket_server_disconnect(sid, 1, 6000) end)
try(function() _PY.websocket_server_add_event_listener(sid, "message", nil) end)
try(function() _PY.websocket_server_close({}) end)
"#;

/// The script line of the first `try` in `BAD_CALLS` (line 1 is the empty first line).
const FIRST_TRY_LINE: usize = 5;

const BAD_CALL_ERRORS: [&str; 17] = [
    "websocket_send: bad argument #2 (string expected, got table)",
    "websocket_send: bad argument #1 (client id expected, got string)",
    "websocket_connect: bad argument #2 (URL string expected, got number)",
    "websocket_connect: bad argument #3 (table expected, got string)",
    "websocket_connect: bad argument #4 (table expected, got number)",
    "websocket_add_event_listener: bad argument #2 (unknown event 'bogus'",
    "websocket_add_event_listener: bad argument #3 (function expected, got number)",
    "websocket_close: bad argument #2 (close code 99 out of range 1000-4999)",
    "websocket_close: bad argument #2 (close code expected, got string)",
    "websocket_is_open: bad argument #1 (client id expected, got nil)",
    "websocket_server_start: bad argument #2 (string expected, got number)",
    "websocket_server_start: bad argument #3 (port number expected, got string)",
    "websocket_server_send: bad argument #2 (client id expected, got string)",
    "websocket_server_broadcast: bad argument #2 (string expected, got nil)",
    "websocket_server_disconnect: bad argument #3 (close code 6000 out of range",
    "websocket_server_add_event_listener: bad argument #3 (function expected, got nil)",
    "websocket_server_close: bad argument #1 (server id expected, got table)",
];

#[test]
fn bad_arguments_raise_errors_naming_the_function() {
    let out = run_script(BAD_CALLS, &[]);
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines.len(), BAD_CALL_ERRORS.len(), "{}", out.stdout);
    for (line, want) in lines.iter().zip(BAD_CALL_ERRORS) {
        assert!(
            line.starts_with("false\t") && line.contains(want),
            "{line:?} should be an error with {want:?}"
        );
    }
}

#[test]
fn bad_argument_errors_point_at_the_callers_line() {
    // plua/websocket.lua promises errors that "point at the caller's line", as Lua's own
    // `bad argument` errors do.
    let out = run_script(BAD_CALLS, &[]);
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines.len(), BAD_CALL_ERRORS.len(), "{}", out.stdout);
    let wrong: Vec<String> = lines
        .iter()
        .enumerate()
        .filter(|(i, line)| {
            !line.starts_with(&format!("false\tscript.lua:{}: ", FIRST_TRY_LINE + i))
        })
        .map(|(i, line)| format!("script.lua:{}: {line}", FIRST_TRY_LINE + i))
        .collect();
    assert!(
        wrong.is_empty(),
        "errors not located at the calling line:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn connect_failures_arrive_as_error_events_and_the_process_exits() {
    let refused = support::free_port();
    let out = run_script(
        r#"
local refused_port = tonumber(arg[1])
local function client(name, url)
  local id = _PY.websocket_client_create()
  _PY.websocket_add_event_listener(id, "error", function(m) print(name .. " error: " .. m) end)
  _PY.websocket_add_event_listener(id, "connected", function() print(name .. " connected?!") end)
  return id, _PY.websocket_connect(id, url)
end
local fresh = _PY.websocket_client_create()
print("send unconnected", _PY.websocket_send(fresh, "x"))
print("open unconnected", _PY.websocket_is_open(fresh))
print("connect unknown id", _PY.websocket_connect(987654, "ws://127.0.0.1:1/"))
local http_id, ok = client("http", "http://x/")
print("http connect returned", ok)
client("refused", "ws://127.0.0.1:" .. refused_port .. "/")
client("garbage", "not a url at all")
"#,
        &[&refused.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    let find = |prefix: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?}\n{}\n{}", out.stdout, out.stderr))
            .to_string()
    };
    let send = find("send unconnected\t");
    assert!(
        send.starts_with("send unconnected\tfalse\t") && send.contains("not connected"),
        "{send}"
    );
    assert_eq!(find("open unconnected"), "open unconnected\tfalse");
    assert!(
        find("connect unknown id").starts_with("connect unknown id\tfalse\t"),
        "{}",
        out.stdout
    );
    let http = find("http error: ");
    assert!(http.contains("ws://"), "{http}");
    let refused = find("refused error: ");
    assert!(refused.contains("connection refused"), "{refused}");
    let garbage = find("garbage error: ");
    assert!(garbage.contains("ws://"), "{garbage}");
    assert!(!out.stdout.contains("connected?!"), "{}", out.stdout);
}

#[test]
fn start_on_a_busy_port_fails_and_unknown_clients_are_refused() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().unwrap().port();
    let out = run_script(
        r#"
local sid = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(sid, "error", function(m) print("error event", m ~= nil) end)
local ok, msg = _PY.websocket_server_start(sid, "127.0.0.1", tonumber(arg[1]))
print("start", ok, type(msg), #tostring(msg) > 0)
print("send to unknown client", _PY.websocket_server_send(sid, 424242, "x"))
print("broadcast without clients", _PY.websocket_server_broadcast(sid, "x"))
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "start\tfalse\tstring\ttrue");
    assert_has_line(&out, "error event\ttrue");
    assert_has_line(&out, "broadcast without clients\t0");
    let unknown = out
        .lines()
        .into_iter()
        .find(|l| l.starts_with("send to unknown client\t"))
        .unwrap_or_else(|| panic!("{}\n{}", out.stdout, out.stderr))
        .to_owned();
    assert!(
        unknown.starts_with("send to unknown client\tfalse\t"),
        "{unknown}"
    );
    drop(busy);
}

#[test]
fn an_error_in_one_listener_does_not_skip_the_next_listener_of_the_event() {
    let out = run_script(
        r#"
local srv = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(srv, "client_connected", function() error("first listener fails") end)
_PY.websocket_server_add_event_listener(srv, "client_connected", function(client)
  print("second listener ran", math.type(client))
  _PY.websocket_server_close(srv)
end)
local ok, port = _PY.websocket_server_start(srv, "127.0.0.1", 0)
local client = _PY.websocket_client_create()
_PY.websocket_connect(client, "ws://127.0.0.1:" .. port .. "/")
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "second listener ran\tinteger");
    out.assert_stderr_contains("Error in client_connected callback:")
        .assert_stderr_contains("first listener fails");
}

#[test]
fn sends_answer_alike_on_their_c_fast_path_and_off_it() {
    // The common send calls are C functions (src/api/ws_send.rs); calls off that path (a float
    // id, a number as data, a non-boolean `binary`) go to the Lua versions. Both must answer
    // the same: `true`, or `false` and the message, with one value or two.
    let out = run_script(
        r#"
local function show(label, ...) print(label, select('#', ...), ...) end
print("kinds", debug.getinfo(_PY.websocket_send).what, debug.getinfo(_PY.websocket_server_send).what)
show("unknown fast", _PY.websocket_send(999, "x"))
show("unknown slow", _PY.websocket_send(999.0, 12))
show("unknown server fast", _PY.websocket_server_send(1, 999, "x", false))
show("unknown server slow", _PY.websocket_server_send(1, 999, "x", "yes"))
local sid = _PY.websocket_server_create()
local cid
_PY.websocket_server_add_event_listener(sid, "client_connected", function(client)
  cid = client
  show("server text", _PY.websocket_server_send(sid, client, "hello"))
  show("server not utf8", _PY.websocket_server_send(sid, client, "\xff\xfe"))
  show("server binary", _PY.websocket_server_send(sid, client, "\xff\xfe", true))
  show("server number", _PY.websocket_server_send(sid, client, 42))
end)
_PY.websocket_server_add_event_listener(sid, "message", function(client, data, binary)
  print("server got", data, binary)
  _PY.websocket_server_disconnect(sid, client)
end)
local _, port = _PY.websocket_server_start(sid, "127.0.0.1", 0)
local c = _PY.websocket_client_create()
local got = {}
_PY.websocket_add_event_listener(c, "connected", function()
  show("client text", _PY.websocket_send(c, "from client"))
end)
_PY.websocket_add_event_listener(c, "dataReceived", function(data, binary)
  local shown = binary and table.concat({ data:byte(1, -1) }, ",") or data
  got[#got + 1] = shown .. "/" .. tostring(binary)
end)
_PY.websocket_add_event_listener(c, "disconnected", function()
  print("client got", table.concat(got, " "))
  show("client after close", _PY.websocket_send(c, "late"))
  show("server after close", _PY.websocket_server_send(sid, cid, "late"))
  _PY.websocket_server_close(sid)
end)
_PY.websocket_connect(c, "ws://127.0.0.1:" .. port .. "/")
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    for line in [
        "kinds\tC\tC",
        "unknown fast\t2\tfalse\tunknown WebSocket id 999",
        "unknown slow\t2\tfalse\tunknown WebSocket id 999",
        "unknown server fast\t2\tfalse\tunknown WebSocket id 999",
        "unknown server slow\t2\tfalse\tunknown WebSocket id 999",
        "server text\t1\ttrue",
        "server not utf8\t2\tfalse\ttext message is not valid UTF-8 (send it as binary)",
        "server binary\t1\ttrue",
        "server number\t1\ttrue",
        "client text\t1\ttrue",
        "server got\tfrom client\tfalse",
        "client got\thello/false 255,254/true 42/false",
        "client after close\t2\tfalse\tnot connected",
        "server after close\t2\tfalse\tclosing",
    ] {
        assert_has_line(&out, line);
    }
}
