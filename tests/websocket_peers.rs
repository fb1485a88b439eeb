//! WebSocket interoperability: plua against Python's `websockets` library (client and server
//! sides), and `wss://` with a test CA (plua ↔ plua, Python ↔ plua), including a client that
//! does not trust the certificate.

mod support;

use support::{
    GUARD, Pki, Running, TempDir, assert_has_line, python_one_client_server, python_ws,
    python_ws_server, run_named_script, run_script, start_http_server,
};

/// Python: a `websockets` echo server on 127.0.0.1:0 (prints its port). Per connection it
/// prints the path and X-Token header, echoes every message with its type, closes with 4002
/// "py bye" when told "close me", and prints the close code and reason it ends with.
const PY_ECHO_SERVER: &str = r#"
import asyncio, websockets
async def handler(ws, path=None):
    path = path or ws.path
    print('open', path, ws.request_headers.get('X-Token'), flush=True)
    try:
        async for msg in ws:
            if msg == 'close me':
                await ws.close(4002, 'py bye')
                break
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass  # a close code other than 1000/1001 ends the iteration with this
    await ws.wait_closed()
    print('closed', path, ws.close_code, ws.close_reason, flush=True)
async def main():
    async with websockets.serve(handler, '127.0.0.1', 0, max_size=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
"#;

#[test]
fn plua_client_against_python_websockets_server() {
    let (peer, port) = python_ws_server(PY_ECHO_SERVER, &[]);
    let out = run_script(
        r#"
local base = "ws://127.0.0.1:" .. arg[1]
local parts = {}
for rep = 1, 1024 do for i = 0, 255 do parts[#parts + 1] = string.char((i + rep) % 256) end end
local bytes = table.concat(parts)
local text = "grüße ✓"

local one
one = _PY.websocket_client_create()
_PY.websocket_add_event_listener(one, "connected", function()
  _PY.websocket_send(one, text)
  _PY.websocket_send(one, bytes, true)
end)
local got = 0
_PY.websocket_add_event_listener(one, "dataReceived", function(data, is_binary)
  got = got + 1
  if got == 1 then print("one text", data == text, is_binary) end
  if got == 2 then
    print("one binary", #data, data == bytes, is_binary)
    _PY.websocket_close(one, 4000, "bye")
  end
end)
_PY.websocket_add_event_listener(one, "disconnected", function(code, reason)
  print("one disconnected", code, reason)
  -- Second connection: the Python server closes it.
  local two = _PY.websocket_client_create()
  _PY.websocket_add_event_listener(two, "connected", function() _PY.websocket_send(two, "close me") end)
  _PY.websocket_add_event_listener(two, "disconnected", function(code, reason)
    print("two disconnected", code, reason)
  end)
  _PY.websocket_connect(two, base .. "/two")
end)
_PY.websocket_add_event_listener(one, "error", function(m) print("error", m) end)
_PY.websocket_connect(one, base .. "/one", { ["X-Token"] = "tok-1" })
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    for line in [
        "one text\ttrue\tfalse",
        "one binary\t262144\ttrue\ttrue",
        "one disconnected\t4000\tbye",
        "two disconnected\t4002\tpy bye",
    ] {
        assert_has_line(&out, line);
    }
    let mut peer = peer;
    peer.wait_for_stdout("closed /two");
    let py = peer.kill_and_collect();
    for line in [
        "open /one tok-1",
        "closed /one 4000 bye",
        "open /two None",
        "closed /two 4002 py bye",
    ] {
        assert_has_line(&py, line);
    }
}

/// Python: a `websockets` client against the plua server at port argv[1].
const PY_CLIENT: &str = r#"
import asyncio, sys, websockets
async def main():
    base = 'ws://127.0.0.1:' + sys.argv[1]
    async with websockets.connect(base + '/chat?room=7', extra_headers={'X-Token': 'py-token'},
                                  max_size=None) as ws:
        await ws.send('héllo')
        r = await ws.recv()
        print('text', type(r).__name__, r, flush=True)
        data = bytes(range(256)) * 4096
        await ws.send(data)
        r = await ws.recv()
        print('binary', type(r).__name__, len(r), r == data, flush=True)
        pong = await ws.ping(b'are you there')
        await asyncio.wait_for(pong, 10)
        print('pong', flush=True)
        await ws.close(4001, 'py done')
        print('closed', ws.close_code, ws.close_reason, flush=True)
    async with websockets.connect(base + '/kick') as ws:
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed:
            pass
        print('kicked', ws.close_code, ws.close_reason, flush=True)
asyncio.run(main())
"#;

#[test]
fn python_websockets_client_against_plua_server() {
    let (_dir, server, port) = start_http_server(
        r#"
local sid = _PY.websocket_server_create()
local function on(event, fn) _PY.websocket_server_add_event_listener(sid, event, fn) end
on("client_connected", function(c, req)
  print("connected", req.path, req.query.room, req.headers["x-token"])
  if req.path == "/kick" then _PY.websocket_server_disconnect(sid, c, 4003, "go away") end
end)
on("message", function(c, data, is_binary)
  print("message", is_binary, #data)
  _PY.websocket_server_send(sid, c, is_binary and data or ("echo " .. data), is_binary)
end)
on("client_disconnected", function(c, code, reason) print("disconnected", code, reason) end)
local ok, port = _PY.websocket_server_start(sid, "127.0.0.1", 0)
assert(ok, port)
print("port=" .. port)
io.stdout:flush()
"#,
    );
    let py = python_ws(PY_CLIENT, &[&port.to_string()]).finish(GUARD);
    py.assert_code(0);
    py.assert_lines(&[
        "text str echo héllo",
        "binary bytes 1048576 True",
        "pong",
        "closed 4001 py done",
        "kicked 4003 go away",
    ]);
    let out = server.kill_and_collect();
    out.assert_no_panic();
    for line in [
        "connected\t/chat\t7\tpy-token",
        "message\tfalse\t6",
        "message\ttrue\t1048576",
        "disconnected\t4001\tpy done",
        "disconnected\t4003\tgo away",
    ] {
        assert_has_line(&out, line);
    }
}

fn tls_opts(pki: &Pki) -> String {
    format!(
        "{{ tls = {{ cert = {:?}, key = {:?} }} }}",
        pki.path("server.pem"),
        pki.path("server.key")
    )
}

#[test]
fn wss_with_the_test_ca_and_refused_without_it() {
    let pki = Pki::new();
    let src = format!(
        r#"
local ca = arg[1]
local sid = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(sid, "message", function(c, data)
  _PY.websocket_server_send(sid, c, "secure " .. data)
end)
_PY.websocket_server_add_event_listener(sid, "error", function(m) print("server error event") end)
local ok, port = _PY.websocket_server_start(sid, "127.0.0.1", 0, {tls})
assert(ok, port)

local function client(name, host, opts, next_step)
  local id = _PY.websocket_client_create()
  _PY.websocket_add_event_listener(id, "connected", function() _PY.websocket_send(id, name) end)
  _PY.websocket_add_event_listener(id, "dataReceived", function(data)
    print(name, "got", data)
    _PY.websocket_close(id)
  end)
  _PY.websocket_add_event_listener(id, "error", function(m)
    print(name, "error", m)
    next_step()
  end)
  _PY.websocket_add_event_listener(id, "disconnected", function(code)
    print(name, "closed", code)
    next_step()
  end)
  _PY.websocket_connect(id, "wss://" .. host .. ":" .. port .. "/", nil, opts)
end

-- In turn: no CA (must fail), the CA by name and by IP, then verification off.
client("untrusted", "localhost", nil, function()
  client("by-name", "localhost", {{ cafile = ca }}, function()
    client("by-ip", "127.0.0.1", {{ cafile = ca }}, function()
      client("unverified", "localhost", {{ verify = false }}, function()
        _PY.websocket_server_close(sid)
      end)
    end)
  end)
end)
"#,
        tls = tls_opts(&pki)
    );
    let out = run_named_script("wss.lua", &src, &[], &[&pki.path("ca.pem")]);
    out.assert_code(0).assert_no_panic();
    let untrusted = out
        .lines()
        .into_iter()
        .find(|l| l.starts_with("untrusted\t"))
        .unwrap_or_else(|| panic!("{}\n{}", out.stdout, out.stderr))
        .to_owned();
    assert!(
        untrusted.starts_with("untrusted\terror\t") && untrusted.contains("certificate"),
        "{untrusted}"
    );
    assert!(!out.stdout.contains("untrusted\tgot"), "{}", out.stdout);
    for line in [
        "by-name\tgot\tsecure by-name",
        "by-name\tclosed\t1000",
        "by-ip\tgot\tsecure by-ip",
        "by-ip\tclosed\t1000",
        "unverified\tgot\tsecure unverified",
        "unverified\tclosed\t1000",
    ] {
        assert_has_line(&out, line);
    }
}

#[test]
fn python_websockets_client_over_wss_against_plua_tls_server() {
    let pki = Pki::new();
    let (_dir, server, port) = start_http_server(&format!(
        r#"
local sid = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(sid, "message", function(c, data, is_binary)
  _PY.websocket_server_send(sid, c, data, is_binary)
end)
_PY.websocket_server_add_event_listener(sid, "client_disconnected", function(c, code, reason)
  print("disconnected", code, reason)
  io.stdout:flush()
end)
local ok, port = _PY.websocket_server_start(sid, "127.0.0.1", 0, {})
assert(ok, port)
print("port=" .. port)
io.stdout:flush()
"#,
        tls_opts(&pki)
    ));
    let py = python_ws(
        r#"
import asyncio, ssl, sys, websockets
async def main():
    ctx = ssl.create_default_context(cafile=sys.argv[2])
    async with websockets.connect('wss://localhost:' + sys.argv[1] + '/', ssl=ctx) as ws:
        await ws.send(b'\x00\x01tls\xff')
        r = await ws.recv()
        print('echo', r == b'\x00\x01tls\xff', flush=True)
        await ws.close(4010, 'tls bye')
    plain = ssl.create_default_context()
    try:
        async with websockets.connect('wss://localhost:' + sys.argv[1] + '/', ssl=plain) as ws:
            print('untrusted connected?!', flush=True)
    except ssl.SSLCertVerificationError:
        print('untrusted refused', flush=True)
asyncio.run(main())
"#,
        &[&port.to_string(), &pki.path("ca.pem")],
    )
    .finish(GUARD);
    py.assert_code(0);
    py.assert_lines(&["echo True", "untrusted refused"]);
    let out = server.kill_and_collect();
    out.assert_no_panic();
    assert_has_line(&out, "disconnected\t4010\ttls bye");
}

/// Python (a `python_one_client_server` body): reads the client's opening handshake and
/// accepts it by hand, then prints `upgraded`.
const PY_ACCEPT_HANDSHAKE: &str = "import base64\n\
head = b''\n\
while True:\n\
\x20   line = recv_line()\n\
\x20   if line in (b'\\r\\n', b''):\n\
\x20       break\n\
\x20   head += line\n\
key = [l.split(b':', 1)[1].strip() for l in head.split(b'\\r\\n') if l.lower().startswith(b'sec-websocket-key:')][0]\n\
accept = base64.b64encode(hashlib.sha1(key + b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest())\n\
c.sendall(b'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + b'\\r\\n\\r\\n')\n\
print('upgraded', flush=True)\n";

/// Lua: a client of ws://127.0.0.1:arg[1]/ printing its events (`opts` from the global
/// `OPTS`); `on_connected` (global) runs on `connected`.
const LOGGING_CLIENT: &str = r#"
local id = _PY.websocket_client_create()
CLIENT_ID = id
local function say(...) print(...) io.stdout:flush() end
_PY.websocket_add_event_listener(id, "connected", function()
  say("connected")
  if on_connected then on_connected(id, say) end
end)
_PY.websocket_add_event_listener(id, "error", function(m) say("error", m) end)
_PY.websocket_add_event_listener(id, "disconnected", function(code) say("disconnected", code) end)
_PY.websocket_connect(id, "ws://127.0.0.1:" .. arg[1] .. "/", nil, OPTS)
"#;

fn logging_client(prefix: &str, port: u16) -> (TempDir, Running) {
    let dir = TempDir::new();
    dir.write("client.lua", &format!("{prefix}\n{LOGGING_CLIENT}"));
    let client = Running::script_with_args(&dir, "client.lua", &[&port.to_string()]);
    (dir, client)
}

#[test]
fn handshake_timeout_and_refused_handshake_are_error_events() {
    // A server that accepts the TCP connection and never answers.
    let (silent, port) = python_one_client_server("time.sleep(15)");
    let (_dir, client) = logging_client("OPTS = { timeout = 1 }", port);
    let out = client.finish(GUARD);
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.lines().len(), 1, "{}", out.stdout);
    assert!(out.stdout.starts_with("error\t"), "{}", out.stdout);
    assert!(out.stdout.contains("timeout"), "{}", out.stdout);
    silent.kill_and_collect();

    // A server that answers the upgrade with 404.
    let (http, port) = python_one_client_server(
        "while recv_line() not in (b'\\r\\n', b''):\n\
         \x20   pass\n\
         c.sendall(b'HTTP/1.1 404 Not Found\\r\\nContent-Length: 0\\r\\n\\r\\n')\n\
         time.sleep(1)",
    );
    let (_dir, client) = logging_client("", port);
    let out = client.finish(GUARD);
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.lines().len(), 1, "{}", out.stdout);
    assert!(
        out.stdout.starts_with("error\t") && out.stdout.contains("404"),
        "{}",
        out.stdout
    );
    http.kill_and_collect();
}

#[test]
fn server_killed_while_connected_gives_1006_and_the_client_exits() {
    let (mut peer, port) =
        python_one_client_server(&format!("{PY_ACCEPT_HANDSHAKE}time.sleep(30)"));
    let (_dir, mut client) = logging_client("", port);
    peer.wait_for_stdout("upgraded");
    client.wait_for_stdout("connected");
    assert!(client.is_running());
    peer.kill_and_collect();
    let out = client.finish(GUARD);
    out.assert_code(0).assert_no_panic();
    assert_eq!(
        out.lines(),
        ["connected", "disconnected\t1006"],
        "{}",
        out.stderr
    );
}

#[test]
fn sending_to_a_peer_that_never_reads_reports_a_full_buffer() {
    let (mut peer, port) =
        python_one_client_server(&format!("{PY_ACCEPT_HANDSHAKE}time.sleep(30)"));
    let (_dir, mut client) = logging_client(
        r#"
function on_connected(id, say)
  local chunk = string.rep("z", 1024 * 1024)
  for i = 1, 1000 do
    local ok, msg = _PY.websocket_send(id, chunk, true)
    if not ok then say("refused after MiB", i - 1, msg) return end
  end
  say("never refused")
end
"#,
        port,
    );
    peer.wait_for_stdout("upgraded");
    let refused = client.line_after("refused after MiB\t");
    let (count, message) = refused.split_once('\t').expect("count and message");
    let count: usize = count.parse().expect("a count");
    // 64 MiB are queued (the kernel's socket buffers take a few more) before sends are refused.
    assert!((64..200).contains(&count), "{refused}");
    assert!(message.contains("send buffer full"), "{refused}");
    // Once the peer dies, the client is disconnected and the process ends by itself.
    peer.kill_and_collect();
    let out = client.finish(GUARD);
    out.assert_code(0).assert_no_panic();
    assert_has_line(&out, "disconnected\t1006");
    assert!(!out.stdout.contains("never refused"), "{}", out.stdout);
}
