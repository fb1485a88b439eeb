//! Inbound backpressure: a local peer writing as fast as it can into a plua TCP server (event
//! mode, a handler that keeps nothing) or WebSocket server (a handler that does nothing) must
//! neither grow the server's memory (reading pauses at the per-connection bound) nor starve the
//! loop (each socket gets a bounded share of a turn): another client is answered promptly, a
//! timer keeps firing, and the memory stays low after the flood too.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use support::{GUARD, Running, TempDir, rss_kib};

/// How long the flood lasts.
const FLOOD: Duration = Duration::from_secs(4);
/// Stated bound of the server's resident memory during and after the flood.
const RSS_LIMIT_KIB: u64 = 64 * 1024;
/// Bound of the server's resident memory after the flood and a quiet moment: what a burst
/// took is given back (or was never taken).
const RSS_AFTER_LIMIT_KIB: u64 = 32 * 1024;
/// Generous bound of one answer to the probing client while the flood goes on.
const ANSWER_LIMIT: Duration = Duration::from_secs(1);

/// What the test saw while one peer flooded the server.
struct Observed {
    peak_rss_kib: u64,
    rss_after_kib: u64,
    slowest_answer: Duration,
    answers: usize,
    flooded_bytes: u64,
    ticks_during_flood: usize,
}

/// Writes `chunk` to `stream` until `stop` is set or the server goes away; counts the bytes.
fn flood(mut stream: TcpStream, chunk: Vec<u8>, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) {
    stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .expect("write timeout");
    while !stop.load(Ordering::Relaxed) {
        match stream.write(&chunk) {
            Ok(n) => {
                sent.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(error)
                if error.kind() == std::io::ErrorKind::WouldBlock
                    || error.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
}

/// Runs `server` (a plua script printing `port=N` and a `tick` line per timer tick), floods it
/// through `open_flood` while `probe` measures answers, and reports what it saw.
fn flood_and_probe(
    server: &str,
    open_flood: impl FnOnce(u16) -> (TcpStream, Vec<u8>),
    mut probe: impl FnMut(u16) -> Duration,
) -> Observed {
    let dir = TempDir::new();
    dir.write("server.lua", server);
    let mut plua = Running::script_with_args(&dir, "server.lua", &[]);
    let port: u16 = plua.line_after("port=").parse().expect("port");
    let pid = plua.pid();
    let (stream, chunk) = open_flood(port);
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flooder = {
        let (stop, sent) = (stop.clone(), sent.clone());
        thread::spawn(move || flood(stream, chunk, stop, sent))
    };
    let ticks_before = plua.stdout_text().matches("tick").count();
    let started = Instant::now();
    let (mut peak, mut slowest, mut answers) = (0, Duration::ZERO, 0);
    while started.elapsed() < FLOOD {
        thread::sleep(Duration::from_millis(200));
        peak = peak.max(rss_kib(pid).unwrap_or(0));
        slowest = slowest.max(probe(port));
        answers += 1;
    }
    let ticks_during_flood = plua.stdout_text().matches("tick").count() - ticks_before;
    stop.store(true, Ordering::Relaxed);
    let _ = flooder.join();
    peak = peak.max(rss_kib(pid).unwrap_or(0));
    // A quiet moment after the flood: buffers are drained and given back.
    thread::sleep(Duration::from_millis(1500));
    let rss_after_kib = rss_kib(pid).unwrap_or(u64::MAX);
    let out = plua.kill_and_collect();
    out.assert_no_panic();
    Observed {
        peak_rss_kib: peak,
        rss_after_kib,
        slowest_answer: slowest,
        answers,
        flooded_bytes: sent.load(Ordering::Relaxed),
        ticks_during_flood,
    }
}

fn assert_held_up(what: &str, seen: &Observed) {
    eprintln!(
        "{what}: flooded {} MiB, peak RSS {} KiB, after {} KiB, slowest answer {:?} of {}, {} ticks",
        seen.flooded_bytes >> 20,
        seen.peak_rss_kib,
        seen.rss_after_kib,
        seen.slowest_answer,
        seen.answers,
        seen.ticks_during_flood
    );
    assert!(
        seen.flooded_bytes > 8 << 20,
        "{what}: the flood should have pushed some data ({} bytes)",
        seen.flooded_bytes
    );
    assert!(
        seen.peak_rss_kib < RSS_LIMIT_KIB,
        "{what}: server RSS reached {} KiB",
        seen.peak_rss_kib
    );
    assert!(
        seen.rss_after_kib < RSS_AFTER_LIMIT_KIB,
        "{what}: server RSS after the flood {} KiB",
        seen.rss_after_kib
    );
    assert!(
        seen.slowest_answer < ANSWER_LIMIT,
        "{what}: another client waited {:?} for an answer",
        seen.slowest_answer
    );
    // The timer ticks every 100 ms: over 4 s at least a handful must have fired.
    assert!(
        seen.ticks_during_flood >= 10,
        "{what}: only {} timer ticks during the flood",
        seen.ticks_during_flood
    );
}

#[test]
fn a_flooding_client_neither_bloats_nor_stalls_a_tcp_server() {
    let server = r#"
local srv = _PY.tcp_server_create()
local received = 0
_PY.tcp_server_add_event_listener(srv, "data_received", function(id, data)
  if data == "ping\n" then _PY.tcp_write(id, "pong\n") else received = received + #data end
end)
local ok, msg, port = _PY.tcp_server_start(srv, "127.0.0.1", 0)
print("port=" .. port) io.stdout:flush()
local n = 0
setInterval(function() n = n + 1 print("tick", n) io.stdout:flush() end, 100)
"#;
    let mut probe: Option<TcpStream> = None;
    let seen = flood_and_probe(
        server,
        |port| {
            let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            (stream, vec![b'x'; 64 * 1024])
        },
        |port| {
            let stream = probe.get_or_insert_with(|| {
                let stream = TcpStream::connect(("127.0.0.1", port)).expect("probe");
                stream.set_read_timeout(Some(GUARD)).expect("probe timeout");
                stream
            });
            let asked = Instant::now();
            stream.write_all(b"ping\n").expect("ping");
            let mut answer = [0u8; 5];
            stream.read_exact(&mut answer).expect("pong");
            assert_eq!(&answer, b"pong\n");
            asked.elapsed()
        },
    );
    assert_held_up("tcp", &seen);
}

/// A masked client frame (mask key 0, so the payload goes as is).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(payload);
    frame
}

/// A raw WebSocket connection to 127.0.0.1:port, past the opening handshake.
fn ws_open(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(GUARD)).expect("timeout");
    let request = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("handshake");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("handshake answer");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    stream
}

#[test]
fn a_flooding_client_neither_bloats_nor_stalls_a_websocket_server() {
    let server = r#"
local srv = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(srv, "message", function(client, data)
  if data == "ping" then _PY.websocket_server_send(srv, client, "pong") end
end)
local ok, port = _PY.websocket_server_start(srv, "127.0.0.1", 0)
print("port=" .. port) io.stdout:flush()
local n = 0
setInterval(function() n = n + 1 print("tick", n) io.stdout:flush() end, 100)
"#;
    let mut probe: Option<TcpStream> = None;
    let seen = flood_and_probe(
        server,
        |port| {
            let mut chunk = Vec::new();
            for _ in 0..128 {
                chunk.extend(client_frame(0x2, &[b'y'; 512]));
            }
            (ws_open(port), chunk)
        },
        |port| {
            let stream = probe.get_or_insert_with(|| ws_open(port));
            let asked = Instant::now();
            stream.write_all(&client_frame(0x1, b"ping")).expect("ping");
            let mut answer = [0u8; 6];
            stream.read_exact(&mut answer).expect("pong");
            assert_eq!(&answer, b"\x81\x04pong");
            asked.elapsed()
        },
    );
    assert_held_up("websocket", &seen);
}

/// Reads one unmasked server frame's payload (no fragmentation, payload < 64 KiB).
fn server_frame(stream: &mut TcpStream) -> Vec<u8> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).expect("frame head");
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext).expect("frame length");
            u16::from_be_bytes(ext) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).expect("frame payload");
    payload
}

#[test]
fn a_websocket_server_with_a_tiny_max_input_still_delivers_every_message_in_order() {
    let dir = TempDir::new();
    dir.write(
        "server.lua",
        r#"
local srv = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(srv, "message", function(client, data)
  _PY.websocket_server_send(srv, client, data)
end)
local ok, port = _PY.websocket_server_start(srv, "127.0.0.1", 0, {max_input = 1000})
print("port=" .. port) io.stdout:flush()
"#,
    );
    let mut plua = Running::script_with_args(&dir, "server.lua", &[]);
    let port: u16 = plua.line_after("port=").parse().expect("port");
    let mut stream = ws_open(port);
    let messages: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("{i:04}{}", "m".repeat(1020)).into_bytes())
        .collect();
    let mut all = Vec::new();
    for message in &messages {
        all.extend(client_frame(0x1, message));
    }
    let writer = {
        let mut stream = stream.try_clone().expect("clone");
        thread::spawn(move || stream.write_all(&all).expect("send all"))
    };
    for (i, message) in messages.iter().enumerate() {
        assert_eq!(&server_frame(&mut stream), message, "echo {i}");
    }
    writer.join().expect("writer");
    plua.kill_and_collect().assert_no_panic();
}
