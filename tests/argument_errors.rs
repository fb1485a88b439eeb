//! Argument errors as a script sees them: a probe calls every `_PY`, `net` and `socket` function
//! (and the fields of their option tables) with a wrong-typed value in each position, under
//! `pcall`, and every message must name the function as the script called it, the argument
//! number, what was expected and what was got, and point at the script's line, never at
//! plua's embedded library or mlua's wording.

mod support;

use std::collections::BTreeSet;

use support::{GUARD, Running, TempDir, free_port};

const PROBE: &str = r#"-- Calls every _PY, net and socket function with a wrong-typed value in each argument position
-- and prints what it raised.
local PORT = tonumber(arg[1]) or 1 -- a refused port
local URL = "http://127.0.0.1:" .. PORT .. "/"
local fn = function() end
local WRONG = { { "nil", nil }, { "number", 1.5 }, { "number", 2^70 }, { "string", "str" }, { "table", {} },
  { "function", fn }, { "boolean", true } }
local net = require("net")
local socket = require("socket")

local function try(f, args, n)
  return pcall(f, table.unpack(args, 1, n)) -- PCALL LINE
end

-- label: as the user calls it; valid: good arguments; self: 1 for methods (args[1] is self).
local function probe(label, f, valid, self, skip)
  local n = valid.n or #valid
  for p = (self or 0) + 1, n do
    for _, w in ipairs(WRONG) do
      -- (LuaSocket turns a number into a host name to look up: no DNS queries in a probe)
      local host = valid[p] == "127.0.0.1" or valid[p] == "no-such-host.invalid" or valid[p] == "localhost"
      local lookup = host and w[1] == "number"
      if not lookup and not (skip and skip[w[1]]) and (w[1] ~= type(valid[p]) or (w[1] == "number" and math.type(valid[p]) == "integer")) then
        local args = {}
        for i = 1, n do args[i] = valid[i] end
        args[p] = w[2]
        local ok, err = try(f, args, n)
        local shown = p - (self or 0)
        if ok then
          print(("ACCEPTED\t%s\t#%d\t%s"):format(label, shown, w[1]))
        else
          print(("RAISED\t%s\t#%d\t%s\t%s"):format(label, shown, w[1], tostring(err):gsub("\n", " | ")))
        end
      end
    end
  end
end

local function probe_fields(label, f, valid, index, good, self)
  local names = {}
  for field in pairs(good) do names[#names + 1] = field end
  table.sort(names)
  for _, field in ipairs(names) do
    for _, w in ipairs(WRONG) do
      if w[1] ~= "nil" and w[1] ~= type(good[field]) then
        local opts = {}
        for k, v in pairs(good) do opts[k] = v end
        opts[field] = w[2]
        local args = {}
        for i = 1, #valid do args[i] = valid[i] end
        args[index] = opts
        local ok, err = try(f, args, #valid)
        if ok then
          print(("ACCEPTED\t%s\t#%d\t%s\t{%s}"):format(label, index - (self or 0), w[1], field))
        else
          print(("RAISED\t%s\t#%d\t%s{%s}\t%s"):format(label, index - (self or 0), w[1], field, tostring(err):gsub("\n", " | ")))
        end
      end
    end
  end
end

local cb = fn
probe("tcp_connect", _PY.tcp_connect, { "127.0.0.1", PORT, cb, { timeout = 1 } })
probe("tcp_write", _PY.tcp_write, { 1, "data", cb })
probe("tcp_read", _PY.tcp_read, { 1, 10, cb })
probe("tcp_read_until", _PY.tcp_read_until, { 1, "\n", 10, cb })
probe("tcp_close", _PY.tcp_close, { 1, cb })
probe("tcp_set_timeout", _PY.tcp_set_timeout, { 1, 5, cb })
probe("tcp_get_timeout", _PY.tcp_get_timeout, { 1, cb })
probe("tcp_connect_sync", _PY.tcp_connect_sync, { "127.0.0.1", PORT, { timeout = 1 } })
probe("tcp_write_sync", _PY.tcp_write_sync, { 1, "data" })
probe("tcp_read_sync", _PY.tcp_read_sync, { 1, 10 })
probe("tcp_read_until_sync", _PY.tcp_read_until_sync, { 1, "\n", 10 })
probe("tcp_close_sync", _PY.tcp_close_sync, { 1 })
probe("tcp_set_timeout_sync", _PY.tcp_set_timeout_sync, { 1, 5 })
probe("tcp_get_timeout_sync", _PY.tcp_get_timeout_sync, { 1 })
probe("tcp_server_add_event_listener", _PY.tcp_server_add_event_listener, { 1, "error", cb })
probe("tcp_server_start", _PY.tcp_server_start, { 99999, "127.0.0.1", 0, {} })
probe("tcp_server_close", _PY.tcp_server_close, { 1 })
probe("tcp_server_create_sync", _PY.tcp_server_create_sync, { "no-such-host.invalid", 0 })
probe("tcp_server_accept_sync", _PY.tcp_server_accept_sync, { 1, 0.01 })
probe("tcp_connect_to_sync_server", _PY.tcp_connect_to_sync_server, { "127.0.0.1", PORT })
probe("tcp_write_sync_client", _PY.tcp_write_sync_client, { 1, "data" })
probe("tcp_read_sync_client", _PY.tcp_read_sync_client, { 1, 10, 0.01 })
probe("tcp_close_sync_client", _PY.tcp_close_sync_client, { 1 })
probe("tcp_server_close_sync", _PY.tcp_server_close_sync, { 1 })
probe("udp_connect", _PY.udp_connect, { "127.0.0.1", PORT, cb, { timeout = 1 } })
probe("udp_bind", _PY.udp_bind, { "no-such-host.invalid", 0, cb, {} })
probe("udp_write", _PY.udp_write, { 1, "data", "127.0.0.1", PORT, cb })
probe("udp_read", _PY.udp_read, { 1, 10, cb })
probe("udp_close", _PY.udp_close, { 1, cb })
probe("udp_receive_sync", _PY.udp_receive_sync, { 1, 10 })
probe("http_server_start", _PY.http_server_start, { "no-such-host.invalid", 0, cb, {} })
probe("http_server_stop", _PY.http_server_stop, { 1 })
probe("http_request_async", _PY.http_request_async, { { url = URL, method = "GET", headers = {}, timeout = 1 }, cb })
probe("http_request_sync", _PY.http_request_sync, { { url = URL, method = "GET", headers = {}, body = "", timeout = 1 } })
probe("http_request_blocking_pool", _PY.http_request_blocking_pool, { { url = URL, timeout = 1 }, cb })
probe("websocket_client_create", _PY.websocket_client_create, {})
probe("websocket_add_event_listener", _PY.websocket_add_event_listener, { 1, "error", cb })
probe("websocket_connect", _PY.websocket_connect, { 1, "ws://127.0.0.1:" .. PORT .. "/", {}, { timeout = 1 } })
probe("websocket_send", _PY.websocket_send, { 1, "data", true })
probe("websocket_close", _PY.websocket_close, { 1, 1000, "bye" })
probe("websocket_is_open", _PY.websocket_is_open, { 1 })
probe("websocket_server_add_event_listener", _PY.websocket_server_add_event_listener, { 1, "error", cb })
probe("websocket_server_start", _PY.websocket_server_start, { 1, "no-such-host.invalid", 0, {} })
probe("websocket_server_send", _PY.websocket_server_send, { 1, 2, "data", true })
probe("websocket_server_broadcast", _PY.websocket_server_broadcast, { 1, "data", true })
probe("websocket_server_disconnect", _PY.websocket_server_disconnect, { 1, 2, 1000, "bye" })
probe("websocket_server_close", _PY.websocket_server_close, { 1 })
probe("setTimeout", setTimeout, { cb, 10 })
probe("setInterval", setInterval, { cb, 10 })
probe("clearTimeout", clearTimeout, { 1 })
probe("clearInterval", clearInterval, { 1 })
probe("_PY.setTimeout", _PY.setTimeout, { cb, 10 })
probe("sleep", _PY.sleep, { 0 })
probe("unref", _PY.unref, { 1 })
probe("ref", _PY.ref, { 1 })
probe("read_file", _PY.read_file, { "no-such-file" })
probe("write_file", _PY.write_file, { "probe-out.txt", "data" })
probe("file_exists", _PY.file_exists, { "x" })
probe("get_file_size", _PY.get_file_size, { "x" })
probe("list_files", _PY.list_files, { "." })
probe("create_directory", _PY.create_directory, { "probe-dir" })
probe("create_temp_directory", _PY.create_temp_directory, { "probe" })
probe("parse_json", _PY.parse_json, { "{}" })
probe("get_env_var", _PY.get_env_var, { "HOME", "x" })
probe("set_env_var", _PY.set_env_var, { "PROBE", "x" })
probe("html2console", _PY.html2console, { "<b>x</b>" })
probe("base64_encode", _PY.base64_encode, { "x" })
probe("base64_decode", _PY.base64_decode, { "eA==" })
probe("is_port_available", _PY.is_port_available, { PORT, "127.0.0.1" })
probe("start_web_server", _PY.start_web_server, { 0, "no-such-host.invalid" })
probe("register_web_callback", _PY.register_web_callback, { "x", cb })
probe("net.TCPSocket", net.TCPSocket, { {} })
local tcp = net.TCPSocket({ timeout = 1000 })
probe("net.TCPSocket:connect", tcp.connect, { tcp, "127.0.0.1", PORT, {} }, 1)
probe("net.TCPSocket:read", tcp.read, { tcp, {} }, 1)
probe("net.TCPSocket:readUntil", tcp.readUntil, { tcp, "\n", {} }, 1)
probe("net.TCPSocket:send", tcp.send, { tcp, "data", {} }, 1)
probe("net.UDPSocket", net.UDPSocket, { {} })
local udp = net.UDPSocket({})
probe("net.UDPSocket:sendTo", udp.sendTo, { udp, "data", "127.0.0.1", PORT, {} }, 1)
probe("net.UDPSocket:receive", udp.receive, { udp, {} }, 1)
probe("net.UDPSocket:bind", udp.bind, { udp, "127.0.0.1", 0 }, 1)
probe("net.HTTPClient", net.HTTPClient, { {} })
local client = net.HTTPClient({})
probe("net.HTTPClient:request", client.request, { client, URL, { options = { method = "GET", timeout = 1000 }, success = cb, error = cb } }, 1)
local server = net.TCPServer()
probe("net.TCPServer:start", server.start, { server, "no-such-host.invalid", 0, cb }, 1)
local hserver = net.HTTPServer()
probe("net.HTTPServer:start", hserver.start, { hserver, "no-such-host.invalid", 0, cb }, 1)
local ws = net.WebSocketClient({})
probe("net.WebSocketClient:addEventListener", ws.addEventListener, { ws, "error", cb }, 1)
probe("net.WebSocketClient:connect", ws.connect, { ws, "ws://127.0.0.1:" .. PORT .. "/", {} }, 1)
probe("net.WebSocketClient:send", ws.send, { ws, "data", true }, 1)
probe("net.WebSocketClient:close", ws.close, { ws, 1000, "bye" }, 1)
local wss = net.WebSocketServer()
probe("net.WebSocketServer:start", wss.start, { wss, "no-such-host.invalid", 0, {}, {} }, 1)
probe("net.WebSocketServer:send", wss.send, { wss, 1, "data", true }, 1)
probe("net.WebSocketServer:broadcast", wss.broadcast, { wss, "data", true }, 1)
probe("net.EchoServer", net.EchoServer, { "127.0.0.1", 0, false })
probe("socket.connect", socket.connect, { "127.0.0.1", PORT })
probe("socket.bind", socket.bind, { "no-such-host.invalid", 0 })
-- (a nil or huge timeout waits forever, as in LuaSocket)
probe("socket.select", socket.select, { {}, {}, 0 }, nil, { ["nil"] = true, number = true })
probe("socket.sleep", socket.sleep, { 0 }, nil, { number = true })
probe("socket.dns.toip", socket.dns.toip, { "localhost" })
local master = socket.bind("127.0.0.1", 0)
local _, master_port = master:getsockname()
local sock = socket.connect("127.0.0.1", master_port)
local fresh = socket.tcp()
probe("socket.tcp:listen", fresh.listen, { fresh, 10 }, 1)
probe("socket.tcp:accept", master.accept, { master }, 1)
probe("socket.tcp:settimeout", sock.settimeout, { sock, 1 }, 1)
probe("socket.tcp:connect", sock.connect, { sock, "127.0.0.1", PORT }, 1)
local unbound = socket.tcp()
probe("socket.tcp:bind", unbound.bind, { unbound, "no-such-host.invalid", 0 }, 1)
probe("socket.tcp:send", sock.send, { sock, "data" }, 1)
sock:settimeout(0.01)
probe("socket.tcp:receive", sock.receive, { sock, 10 }, 1)
probe("socket.tcp:setoption", sock.setoption, { sock, "tcp-nodelay", true }, 1)
probe("socket.tcp:shutdown", sock.shutdown, { sock, "both" }, 1)
probe_fields("tcp_connect", _PY.tcp_connect, { "127.0.0.1", PORT, cb, {} }, 4, { timeout = 1, tls = false, verify = true, servername = "x", cafile = "x" })
probe_fields("udp_bind", _PY.udp_bind, { "no-such-host.invalid", 0, cb, {} }, 4, { broadcast = false, timeout = 1 })
probe_fields("tcp_server_start", _PY.tcp_server_start, { 99999, "127.0.0.1", 0, {} }, 4, { tls = { cert = "c", key = "k" }, max_connections = 5 })
probe_fields("websocket_server_start", _PY.websocket_server_start, { 1, "no-such-host.invalid", 0, {} }, 4, { max_connections = 5, idle_timeout = 1, ping_interval = 1, ping_timeout = 1 })
probe_fields("http_server_start", _PY.http_server_start, { "no-such-host.invalid", 0, cb, {} }, 4, { read_timeout = 1, idle_timeout = 1, max_body_size = 10, tls = { cert = "c", key = "k" } })
probe_fields("http_request_async", _PY.http_request_async, { {}, cb }, 1, { url = URL, headers = {} })
probe_fields("websocket_connect", _PY.websocket_connect, { 1, "ws://127.0.0.1:1/", {}, {} }, 4, { timeout = 1, verify = true, cafile = "x", max_message_size = 100 })
probe_fields("net.TCPSocket", net.TCPSocket, { {} }, 1, { timeout = 1000 })
probe_fields("net.HTTPClient:request", client.request, { client, URL, {} }, 3, { success = cb, error = cb, options = { method = "GET" } }, 1)
probe_fields("net.UDPSocket", net.UDPSocket, { {} }, 1, { timeout = 1000, broadcast = false })
print("DONE")
os.exit(0)
"#;

/// One line of the probe's output.
struct Call {
    raised: bool,
    label: String,
    position: String,
    message: String,
}

fn run_probe() -> Vec<Call> {
    let dir = TempDir::new();
    dir.write("probe.lua", PROBE);
    let port = free_port().to_string();
    let out = Running::script_with_args(&dir, "probe.lua", &[&port]).finish(GUARD);
    out.assert_code(0).assert_no_panic();
    assert!(
        out.stdout.contains("DONE"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    out.lines()
        .iter()
        .filter_map(|line| {
            let fields: Vec<&str> = line.splitn(5, '\t').collect();
            match fields.as_slice() {
                ["RAISED", label, position, _, message] => Some(Call {
                    raised: true,
                    label: label.to_string(),
                    position: position.to_string(),
                    message: message.to_string(),
                }),
                ["ACCEPTED", label, position, ..] => Some(Call {
                    raised: false,
                    label: label.to_string(),
                    position: position.to_string(),
                    message: String::new(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// The line of the probe's `pcall`, where every message must point.
fn pcall_line() -> usize {
    PROBE
        .lines()
        .position(|line| line.contains("-- PCALL LINE"))
        .expect("marker")
        + 1
}

/// The name a message must carry for a call the probe labels `label`.
fn expected_name(label: &str) -> &str {
    if let Some(method) = label.strip_prefix("socket.tcp:") {
        return &label[label.len() - method.len() - 4..]; // "tcp:method"
    }
    label.strip_prefix("_PY.").unwrap_or(label)
}

#[test]
fn every_argument_error_names_the_function_the_argument_and_the_scripts_line() {
    let calls = run_probe();
    let position = format!("probe.lua:{}: ", pcall_line());
    let mut distinct = BTreeSet::new();
    let mut wrong = Vec::new();
    for call in calls.iter().filter(|call| call.raised) {
        distinct.insert((call.label.clone(), call.position.clone()));
        let message = &call.message;
        let mut problems = Vec::new();
        if !message.starts_with(&position) {
            problems.push("not at the script's line");
        }
        if !message.contains(expected_name(&call.label)) {
            problems.push("does not name the function");
        }
        if !message.contains(&format!("bad argument {} (", call.position)) {
            problems.push("wrong or missing argument number");
        }
        if !message.contains(" expected, got ") {
            problems.push("does not say what was expected and got");
        }
        for forbidden in [
            "lua_stdlib/",
            "error converting",
            "'?'",
            "[C]",
            "runtime error",
            "stack traceback",
        ] {
            if message.contains(forbidden) {
                problems.push(forbidden);
            }
        }
        if !problems.is_empty() {
            wrong.push(format!(
                "{} {}: {problems:?}: {message}",
                call.label, call.position
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} bad messages:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(
        distinct.len() >= 40,
        "only {} distinct calls raised",
        distinct.len()
    );
}

#[test]
fn argument_errors_read_the_same_for_rust_and_lua_functions() {
    let calls = run_probe();
    let line = pcall_line();
    let message = |label: &str, position: &str, needle: &str| {
        calls
            .iter()
            .filter(|call| call.raised && call.label == label && call.position == position)
            .map(|call| call.message.clone())
            .find(|message| message.contains(needle))
            .unwrap_or_else(|| panic!("no {label} {position} error containing {needle:?}"))
    };
    for (label, position, text) in [
        (
            "read_file",
            "#1",
            "_PY.read_file: bad argument #1 (string expected, got nil)",
        ),
        (
            "html2console",
            "#1",
            "html2console: bad argument #1 (string expected, got nil)",
        ),
        (
            "is_port_available",
            "#1",
            "bad argument #1 (integer expected, got table)",
        ),
        ("tcp_read", "#2", "tcp_read: bad argument #2 (read pattern"),
        (
            "udp_read",
            "#2",
            "udp_read: bad argument #2 (byte count expected, got number)",
        ),
        (
            "http_server_stop",
            "#1",
            "http_server_stop: bad argument #1 (server id expected, got number)",
        ),
        (
            "setTimeout",
            "#2",
            "setTimeout: bad argument #2 (delay too large: up to 2^40 ms",
        ),
        (
            "tcp_connect",
            "#4",
            "tcp_connect: bad argument #4 (field 'timeout': number expected, got string)",
        ),
        (
            "net.TCPSocket:read",
            "#1",
            "net.TCPSocket:read: bad argument #1 (table expected, got number)",
        ),
        (
            "net.UDPSocket:sendTo",
            "#3",
            "net.UDPSocket:sendTo: bad argument #3 (port number expected, got nil)",
        ),
        (
            "net.HTTPClient:request",
            "#2",
            "net.HTTPClient:request: bad argument #2 (field 'options': table expected, got number)",
        ),
        (
            "net.WebSocketClient:close",
            "#1",
            "net.WebSocketClient:close: bad argument #1 (close code expected, got string)",
        ),
        (
            "socket.connect",
            "#2",
            "socket.connect: bad argument #2 (port expected, got nil)",
        ),
        (
            "socket.select",
            "#1",
            "socket.select: bad argument #1 (table expected, got string)",
        ),
        (
            "socket.tcp:receive",
            "#1",
            "tcp:receive: bad argument #1 (receive pattern '*a', '*l' or a byte count expected, got 'str')",
        ),
    ] {
        let got = message(label, position, text);
        assert!(got.starts_with(&format!("probe.lua:{line}: ")), "{got}");
    }
}

#[test]
fn optional_arguments_left_out_are_not_errors() {
    let calls = run_probe();
    for (label, position) in [
        ("tcp_connect", "#4"),
        ("udp_bind", "#1"),
        ("tcp_read", "#2"),
        ("net.TCPSocket", "#1"),
        ("net.HTTPClient:request", "#2"),
    ] {
        assert!(
            calls
                .iter()
                .any(|call| !call.raised && call.label == label && call.position == position),
            "{label} {position} with nil raised"
        );
    }
}
