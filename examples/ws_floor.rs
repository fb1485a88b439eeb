//! The physical floor of the WebSocket echo figure in scripts/bench.sh: the same echo as
//! scripts/bench/ws_echo_server.lua (every message goes back to its sender, text as text and
//! binary as binary) written directly on mio + tungstenite, with no Lua and no runtime around
//! it. What plua's server spends per message beyond this is the cost of its floors.
//!
//! One thread, one poll; each connection is a tungstenite `WebSocket` over a non-blocking mio
//! stream (the opening handshake retried on readiness until done). Prints `port=<n>` on stdout
//! first, then serves until it is killed.
//!
//! Usage: cargo run --release --example ws_floor -- [PORT]

use std::collections::HashMap;
use std::io::{self, ErrorKind, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use tungstenite::handshake::server::{NoCallback, ServerHandshake};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Error, Message, WebSocket};

const LISTENER: Token = Token(0);

/// The settings plua uses for its connections (`src/ws/mod.rs`): small read buffer, writes
/// straight through.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(16 << 20))
        .max_frame_size(Some(16 << 20))
}

enum Conn {
    Handshaking(MidHandshake<ServerHandshake<TcpStream, NoCallback>>),
    Open(WebSocket<TcpStream>),
}

/// What a readiness event left the connection as: `None` when it is over.
fn on_ready(conn: Conn) -> Option<Conn> {
    match conn {
        Conn::Handshaking(mid) => match mid.handshake() {
            Ok(socket) => echo(socket),
            Err(HandshakeError::Interrupted(mid)) => Some(Conn::Handshaking(mid)),
            Err(HandshakeError::Failure(_)) => None,
        },
        Conn::Open(socket) => echo(socket),
    }
}

/// Reads every message available and sends it back; flushes what is queued.
fn echo(mut socket: WebSocket<TcpStream>) -> Option<Conn> {
    loop {
        match socket.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => match socket.write(message) {
                Ok(()) => {}
                Err(Error::Io(error)) if error.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return None,
            },
            Ok(_) => {}
            Err(Error::Io(error)) if error.kind() == ErrorKind::WouldBlock => break,
            Err(_) => return None,
        }
    }
    match socket.flush() {
        Ok(()) => Some(Conn::Open(socket)),
        Err(Error::Io(error)) if error.kind() == ErrorKind::WouldBlock => Some(Conn::Open(socket)),
        Err(_) => None,
    }
}

fn main() -> io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|port| port.parse().ok())
        .unwrap_or(0);
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("port={}", listener.local_addr()?.port());
    io::stdout().flush()?;
    let mut conns: HashMap<Token, Conn> = HashMap::new();
    let mut next = 1;
    let mut events = Events::with_capacity(256);
    loop {
        if let Err(error) = poll.poll(&mut events, None) {
            if error.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                loop {
                    let mut stream = match listener.accept() {
                        Ok((stream, _)) => stream,
                        Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                        Err(error) => return Err(error),
                    };
                    let token = Token(next);
                    next += 1;
                    stream.set_nodelay(true)?;
                    poll.registry().register(
                        &mut stream,
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    let conn = match tungstenite::accept_with_config(stream, Some(config())) {
                        Ok(socket) => Some(Conn::Open(socket)),
                        Err(HandshakeError::Interrupted(mid)) => Some(Conn::Handshaking(mid)),
                        Err(HandshakeError::Failure(_)) => None,
                    };
                    if let Some(conn) = conn {
                        conns.insert(token, conn);
                    }
                }
            } else if let Some(conn) = conns.remove(&event.token()) {
                // Dropping a finished connection closes its socket (deregistered on close).
                if let Some(conn) = on_ready(conn) {
                    conns.insert(event.token(), conn);
                }
            }
        }
    }
}
