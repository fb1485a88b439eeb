//! WebSocket echo load generator for scripts/bench.sh (figures 12 and 13).
//!
//! Opens `--conns` connections to a WebSocket echo server (tungstenite handshake on a
//! blocking socket, then non-blocking on one mio thread), and has each ping-pong one text
//! message of `--size` bytes at a time: send, wait for the echo, check it is byte for byte
//! what was sent (each message carries its connection and sequence number), send the next.
//! Echoes that arrive within the `--seconds` window after a `--warmup` are counted; at the
//! end the outstanding echoes are drained and every connection is closed with 1000.
//!
//! Prints key=value lines: conns, size, seconds, messages (counted), echoed (all, warm-up and
//! drain included: for a server's CPU per message), msgs_per_sec, p50_us and p99_us (round
//! trip of the counted messages) and client_cpu_us_per_msg (this process's user+sys CPU over
//! the window, to show what the generator itself costs).
//!
//! Usage: cargo run --release --example ws_load -- --url ws://127.0.0.1:PORT/
//!        [--conns 1] [--size 64] [--seconds 5] [--warmup 0.5]

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::process::exit;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use tungstenite::client::client_with_config;
use tungstenite::protocol::{WebSocket, WebSocketConfig};
use tungstenite::{Error, Message};

/// Bytes tungstenite reads per call (plenty for the echoes of small messages).
const READ_BUFFER: usize = 4096;

struct Args {
    url: String,
    conns: usize,
    size: usize,
    seconds: f64,
    warmup: f64,
}

fn usage(message: &str) -> ! {
    eprintln!("ws_load: {message}");
    eprintln!(
        "usage: ws_load --url ws://HOST:PORT/PATH [--conns N] [--size BYTES] [--seconds S] [--warmup S]"
    );
    exit(2);
}

fn parse_args() -> Args {
    use lexopt::prelude::*;
    let mut args = Args {
        url: String::new(),
        conns: 1,
        size: 64,
        seconds: 5.0,
        warmup: 0.5,
    };
    let mut parser = lexopt::Parser::from_env();
    loop {
        let arg = match parser.next() {
            Ok(Some(arg)) => arg,
            Ok(None) => break,
            Err(e) => usage(&e.to_string()),
        };
        let name = match arg {
            Long(name @ ("url" | "conns" | "size" | "seconds" | "warmup")) => name.to_string(),
            Long("help") | Short('h') => usage("help"),
            other => usage(&other.unexpected().to_string()),
        };
        let value = match parser.value().map(|v| v.string()) {
            Ok(Ok(v)) => v,
            _ => usage(&format!("--{name} needs a (UTF-8) value")),
        };
        let bad = || -> ! { usage(&format!("bad --{name}: {value}")) };
        match name.as_str() {
            "url" => args.url = value.clone(),
            "conns" => args.conns = value.parse().unwrap_or_else(|_| bad()),
            "size" => args.size = value.parse().unwrap_or_else(|_| bad()),
            "seconds" => args.seconds = value.parse().unwrap_or_else(|_| bad()),
            _ => args.warmup = value.parse().unwrap_or_else(|_| bad()),
        }
    }
    if args.url.is_empty() {
        usage("--url is required");
    }
    if args.conns == 0 || args.size < 24 {
        usage("--conns must be >= 1 and --size >= 24 (room for the sequence tag)");
    }
    if !(args.seconds > 0.0 && args.warmup >= 0.0) {
        usage("--seconds must be > 0 and --warmup >= 0");
    }
    args
}

/// The socket under tungstenite; remembers whether its last read came back short (fewer
/// bytes than asked for, or WouldBlock), i.e. the kernel had nothing more queued then. With
/// edge-triggered readiness that is as good as a WouldBlock: anything arriving later raises a
/// new event, so a drained socket is not read again just to see WouldBlock (a syscall per
/// message saved, as the servers do).
struct Sock {
    stream: TcpStream,
    drained: bool,
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.stream.read(buf);
        self.drained = match &result {
            Ok(n) => *n < buf.len(),
            Err(e) => e.kind() == ErrorKind::WouldBlock,
        };
        result
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// One connection: its socket, the message it waits the echo of and when that was sent.
struct Conn {
    ws: WebSocket<Sock>,
    payload: Vec<u8>,
    seq: u64,
    sent_at: Instant,
    waiting: bool,
}

impl Conn {
    /// The next payload: "<conn>:<seq>:" then 'x' up to the size, ASCII so it is valid text.
    fn next_payload(&mut self, id: usize) {
        self.seq += 1;
        let tag = format!("{id:06}:{:016}:", self.seq);
        self.payload[..tag.len()].copy_from_slice(tag.as_bytes());
    }

    /// Sends the current payload as text; a full socket leaves it in tungstenite's write
    /// buffer, flushed on the next writable event.
    fn send(&mut self) -> Result<(), String> {
        let text = String::from_utf8(self.payload.clone()).map_err(|e| e.to_string())?;
        self.sent_at = Instant::now();
        self.waiting = true;
        match self.ws.send(Message::text(text)) {
            Ok(()) => Ok(()),
            Err(Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(format!("send: {e}")),
        }
    }
}

fn connect(url: &str, addr: &str) -> WebSocket<Sock> {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| {
        eprintln!("ws_load: connect {addr}: {e}");
        exit(1);
    });
    stream
        .set_nodelay(true)
        .expect("TCP_NODELAY on a connected socket");
    // tungstenite zero-fills its whole read buffer before every read (128 KiB by default):
    // a small one keeps that memset from dominating the generator's CPU.
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let sock = Sock {
        stream,
        drained: false,
    };
    let (ws, _response) = client_with_config(url, sock, Some(config)).unwrap_or_else(|e| {
        eprintln!("ws_load: handshake with {url}: {e}");
        exit(1);
    });
    ws.get_ref()
        .stream
        .set_nonblocking(true)
        .expect("O_NONBLOCK on a connected socket");
    ws
}

/// host:port of a ws:// URL.
fn authority(url: &str) -> &str {
    let rest = url
        .strip_prefix("ws://")
        .unwrap_or_else(|| usage("only ws:// URLs are supported"));
    rest.split('/').next().unwrap_or(rest)
}

/// This process's user+sys CPU time so far, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given; RUSAGE_SELF is always valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn fail(message: String) -> ! {
    eprintln!("ws_load: {message}");
    exit(1);
}

fn main() {
    let args = parse_args();
    let addr = authority(&args.url).to_string();
    let mut poll = Poll::new().expect("mio poll");
    let mut conns: Vec<Conn> = (0..args.conns)
        .map(|_| Conn {
            ws: connect(&args.url, &addr),
            payload: vec![b'x'; args.size],
            seq: 0,
            sent_at: Instant::now(),
            waiting: false,
        })
        .collect();
    for (i, conn) in conns.iter().enumerate() {
        poll.registry()
            .register(
                &mut SourceFd(&conn.ws.get_ref().stream.as_raw_fd()),
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .expect("register a socket with mio");
    }

    let start = Instant::now();
    let window_start = start + Duration::from_secs_f64(args.warmup);
    let window_end = window_start + Duration::from_secs_f64(args.seconds);
    let mut cpu_at_window_start = None;
    let mut cpu_at_window_end = None;
    let mut rtts_ns: Vec<u32> = Vec::with_capacity(1 << 20);
    let mut counted: u64 = 0;
    let mut echoed: u64 = 0;
    let mut waiting = 0usize;
    for (i, conn) in conns.iter_mut().enumerate() {
        conn.next_payload(i);
        conn.send()
            .unwrap_or_else(|e| fail(format!("connection {i}: {e}")));
        waiting += 1;
    }

    let mut events = Events::with_capacity(1024);
    let mut stopping = false;
    while waiting > 0 {
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_secs(5))) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            fail(format!("poll: {e}"));
        }
        if events.is_empty() {
            fail(format!(
                "no echo for 5 s ({waiting} of {} connections waiting)",
                args.conns
            ));
        }
        for event in events.iter() {
            let i = event.token().0;
            let conn = &mut conns[i];
            if event.is_writable() {
                match conn.ws.flush() {
                    Ok(()) => {}
                    Err(Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => fail(format!("connection {i}: flush: {e}")),
                }
            }
            if !event.is_readable() {
                continue;
            }
            loop {
                let data = match conn.ws.read() {
                    Ok(Message::Text(text)) => text,
                    Ok(Message::Binary(_)) => {
                        fail(format!("connection {i}: binary echo of a text message"))
                    }
                    Ok(Message::Close(frame)) => {
                        fail(format!("connection {i}: server closed: {frame:?}"))
                    }
                    Ok(_) => continue, // ping (the pong is queued by tungstenite), pong
                    Err(Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => fail(format!("connection {i}: read: {e}")),
                };
                let now = Instant::now();
                if !conn.waiting || data.as_bytes() != conn.payload.as_slice() {
                    fail(format!(
                        "connection {i}: echo does not match message {}",
                        conn.seq
                    ));
                }
                conn.waiting = false;
                waiting -= 1;
                echoed += 1;
                if now >= window_start && now < window_end && conn.sent_at >= window_start {
                    counted += 1;
                    let rtt = now.duration_since(conn.sent_at).as_nanos();
                    rtts_ns.push(u32::try_from(rtt).unwrap_or(u32::MAX));
                }
                if cpu_at_window_start.is_none() && now >= window_start {
                    cpu_at_window_start = Some(cpu_seconds());
                }
                if now >= window_end && !stopping {
                    stopping = true;
                    cpu_at_window_end = Some(cpu_seconds());
                }
                if !stopping {
                    conn.next_payload(i);
                    conn.send()
                        .unwrap_or_else(|e| fail(format!("connection {i}: {e}")));
                    waiting += 1;
                }
                if conn.ws.get_ref().drained {
                    break;
                }
            }
        }
    }
    let cpu = cpu_at_window_end.unwrap_or_else(cpu_seconds) - cpu_at_window_start.unwrap_or(0.0);

    // Close handshakes: blocking again, a bounded wait for the server's close.
    for conn in &mut conns {
        let sock = &conn.ws.get_ref().stream;
        if sock.set_nonblocking(false).is_err()
            || sock.set_read_timeout(Some(Duration::from_secs(2))).is_err()
        {
            continue;
        }
        if conn.ws.close(None).is_err() {
            continue;
        }
        while conn.ws.read().is_ok() {}
    }

    rtts_ns.sort_unstable();
    let pct = |p: f64| -> f64 {
        if rtts_ns.is_empty() {
            return 0.0;
        }
        let k = ((rtts_ns.len() as f64 * p).ceil() as usize).clamp(1, rtts_ns.len()) - 1;
        rtts_ns[k] as f64 / 1e3
    };
    println!("conns={}", args.conns);
    println!("size={}", args.size);
    println!("seconds={}", args.seconds);
    println!("messages={counted}");
    println!("echoed={echoed}");
    println!("msgs_per_sec={:.0}", counted as f64 / args.seconds);
    println!("p50_us={:.1}", pct(0.50));
    println!("p99_us={:.1}", pct(0.99));
    if counted > 0 {
        println!("client_cpu_us_per_msg={:.2}", cpu * 1e6 / counted as f64);
    }
}
