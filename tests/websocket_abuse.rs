//! Bad peers against the plua WebSocket server: a raw Python TCP peer does the opening
//! handshake by hand and then sends broken frames (reserved bits, unknown opcodes, unmasked
//! client frames, oversized frames, invalid UTF-8, fragmented control frames) or dies in the
//! middle of a frame. The server must answer with the right close code (read back off the
//! wire), report the client as gone and go on serving the next client, without panicking.

mod support;

use support::{Output, Running, TempDir, python, start_http_server};

/// Python: a raw WebSocket client. argv: port, hex bytes to send after the handshake, mode,
/// optionally hex bytes to send after the first frame from the server has arrived. Prints `status <status line>`, then in mode `read` every frame the server sends
/// (`frame <opcode> <masked|unmasked> <text>`, `close <code> <masked|unmasked> <reason>`) and
/// `eof` when the server closes the TCP connection (`timeout` if it does not within 5 s);
/// in mode `hang` it prints `sent` and sleeps until it is killed.
const PY_RAW_PEER: &str = r#"
import base64, os, socket, struct, sys, time
port, payload, mode = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3]
after = bytes.fromhex(sys.argv[4]) if len(sys.argv) > 4 else b''
s = socket.create_connection(('127.0.0.1', port), timeout=10)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(('GET /raw HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n'
           'Connection: Upgrade\r\nSec-WebSocket-Key: ' + key + '\r\n'
           'Sec-WebSocket-Version: 13\r\n\r\n').encode())
buf = b''
while b'\r\n\r\n' not in buf:
    d = s.recv(4096)
    if not d:
        print('eof during handshake', flush=True)
        sys.exit(1)
    buf += d
head, buf = buf.split(b'\r\n\r\n', 1)
print('status', head.split(b'\r\n')[0].decode(), flush=True)
s.sendall(payload)
if mode == 'hang':
    print('sent', flush=True)
    time.sleep(60)
    sys.exit(0)
s.settimeout(5)
class Eof(Exception):
    pass
def need(n):
    global buf
    while len(buf) < n:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            d = b''
        if not d:
            raise Eof()
        buf += d
    out, buf = buf[:n], buf[n:]
    return out
try:
    while True:
        b0, b1 = need(2)
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack('>H', need(2))[0]
        elif n == 127:
            n = struct.unpack('>Q', need(8))[0]
        mask = need(4) if b1 & 0x80 else None
        p = need(n)
        if mask:
            p = bytes(c ^ mask[i % 4] for i, c in enumerate(p))
        how = 'masked' if mask else 'unmasked'
        if b0 & 0x0f == 8:
            code = struct.unpack('>H', p[:2])[0] if len(p) >= 2 else None
            print('close', code, how, p[2:].decode('utf-8', 'replace'), flush=True)
        else:
            print('frame', b0 & 0x0f, how, p.decode('utf-8', 'replace'), flush=True)
        if after:
            s.sendall(after)
            after = b''
except Eof:
    print('eof', flush=True)
except socket.timeout:
    print('timeout', flush=True)
"#;

/// One client frame: first byte `b0` (FIN, RSV, opcode), `payload`, masked with a fixed key
/// when `masked`.
fn frame(b0: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mask_bit = if masked { 0x80 } else { 0 };
    let mut out = vec![b0];
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= 0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let key = [0x37, 0xfa, 0x21, 0x3d];
    if masked {
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the raw peer against `port` in mode `read` (sending `then` once the first frame has
/// come back) and returns its output.
fn raw_peer(port: u16, send: &[u8], then: &[u8]) -> Output {
    let args = [port.to_string(), hex(send), "read".to_owned(), hex(then)];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = python(PY_RAW_PEER, &args).finish(support::GUARD);
    out.assert_code(0);
    assert_eq!(
        out.lines().first().copied(),
        Some("status HTTP/1.1 101 Switching Protocols"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    out
}

/// A well-behaved client: one text message, then (after the echo) a close frame. The server
/// must echo the message and answer the close.
fn good_client_is_served(port: u16) {
    let out = raw_peer(
        port,
        &frame(0x81, b"hello again", true),
        &frame(0x88, &[0x03, 0xe8], true),
    );
    out.assert_lines(&[
        "status HTTP/1.1 101 Switching Protocols",
        "frame 1 unmasked echo hello again",
        "close 1000 unmasked ",
        "eof",
    ]);
}

/// A plua WebSocket echo server (started with the Lua table expression `opts`) that logs its
/// events; prints `port=N`.
fn echo_server(opts: &str) -> (TempDir, Running, u16) {
    start_http_server(&format!(
        r#"
local sid = _PY.websocket_server_create()
local function on(event, fn) _PY.websocket_server_add_event_listener(sid, event, fn) end
local function say(...) print(...) io.stdout:flush() end
on("client_connected", function(c) say("connected", c) end)
on("message", function(c, data) _PY.websocket_server_send(sid, c, "echo " .. data) end)
on("client_disconnected", function(c, code, reason) say("disconnected", c, code) end)
on("error", function(message, c) say("error", c, message) end)
local ok, port = _PY.websocket_server_start(sid, "127.0.0.1", 0, {opts})
assert(ok, port)
say("port=" .. port)
"#
    ))
}

/// Sends `bad` after the handshake and expects a close frame with `code` followed by the end of
/// the connection; then a good client must still be served.
fn violation_is_closed_with(bad: &[u8], code: u16) {
    violation_is_closed_with_opts(bad, code, "nil")
}

fn violation_is_closed_with_opts(bad: &[u8], code: u16, opts: &str) {
    let (_dir, mut server, port) = echo_server(opts);
    let out = raw_peer(port, bad, &[]);
    let lines = out.lines();
    let close = lines
        .iter()
        .find(|l| l.starts_with("close "))
        .unwrap_or_else(|| panic!("no close frame from the server:\n{}", out.stdout));
    assert!(
        close.starts_with(&format!("close {code} unmasked")),
        "expected a close frame with {code}, got {close:?}\n{}",
        out.stdout
    );
    assert_eq!(lines.last().copied(), Some("eof"), "{}", out.stdout);
    assert!(
        !lines.iter().any(|l| l.starts_with("frame ")),
        "{}",
        out.stdout
    );
    // The server reports the error and the client as gone with the same code, and serves the
    // next client.
    let gone = server.line_after("disconnected\t");
    assert!(gone.ends_with(&format!("\t{code}")), "{gone:?}");
    let client = gone.split('\t').next().unwrap().to_owned();
    let error = server.line_after("error\t");
    assert!(error.starts_with(&format!("{client}\t")), "{error:?}");
    good_client_is_served(port);
    server.wait_for_count("disconnected\t", 2, false);
    let out = server.kill_and_collect();
    out.assert_no_panic();
    let count = |prefix: &str| out.lines().iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        (count("connected\t"), count("disconnected\t")),
        (2, 2),
        "two clients connected:\n{}",
        out.stdout
    );
}

#[test]
fn reserved_bits_close_with_1002() {
    violation_is_closed_with(&frame(0x80 | 0x40 | 0x1, b"hi", true), 1002);
}

#[test]
fn reserved_opcode_closes_with_1002() {
    violation_is_closed_with(&frame(0x83, b"hi", true), 1002);
}

#[test]
fn unmasked_client_frame_closes_with_1002() {
    violation_is_closed_with(&frame(0x81, b"hi", false), 1002);
}

#[test]
fn fragmented_control_frame_closes_with_1002() {
    // A ping without FIN.
    violation_is_closed_with(&frame(0x09, b"ping", true), 1002);
}

#[test]
fn invalid_utf8_text_closes_with_1007() {
    violation_is_closed_with(&frame(0x81, &[b'o', b'k', 0xff, 0xfe], true), 1007);
}

#[test]
fn frame_header_claiming_more_than_16_mib_closes_with_1009() {
    // Only the header of a 17 MiB binary frame (and its mask key): the server must refuse it
    // from the length alone instead of waiting for (or buffering) the payload.
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(17u64 * 1024 * 1024).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    violation_is_closed_with(&header, 1009);
}

#[test]
fn fragmented_message_over_max_message_size_closes_with_1009() {
    // Two 600-byte fragments of one binary message against max_message_size = 1000.
    let mut bad = frame(0x02, &[7u8; 600], true);
    bad.extend(frame(0x80, &[8u8; 600], true));
    violation_is_closed_with_opts(&bad, 1009, "{ max_message_size = 1000 }");
}

#[test]
fn client_killed_mid_frame_is_reported_with_1006_and_the_server_goes_on() {
    let (_dir, mut server, port) = echo_server("nil");
    // Header and mask of a 100-byte text frame plus 40 bytes of its payload.
    let whole = frame(0x81, &[b'x'; 100], true);
    let half = &whole[..2 + 4 + 40];
    let mut peer = python(PY_RAW_PEER, &[&port.to_string(), &hex(half), "hang"]);
    peer.wait_for_stdout("sent");
    server.wait_for_stdout("connected\t");
    assert!(
        !server.stdout_text().contains("disconnected\t"),
        "{}",
        server.stdout_text()
    );
    peer.kill_and_collect();
    server.wait_for_stdout("disconnected\t");
    let gone = server.line_after("disconnected\t");
    assert!(gone.ends_with("\t1006"), "{gone:?}");
    good_client_is_served(port);
    server.wait_for_count("disconnected\t", 2, false);
    server.kill_and_collect().assert_no_panic();
}
