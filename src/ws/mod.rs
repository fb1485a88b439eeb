//! WebSocket clients and servers on the reactor, with tungstenite doing the framing over the
//! same non-blocking transports (plain TCP or rustls) as every other socket. A WebSocket server
//! is an embedded HTTP server whose upgrade requests are handed over (`src/http/conn.rs`
//! answers 101), so a script's HTTP server can carry WebSocket routes on its own port too.
//! This file keeps the clients, servers and connections by id; `conn.rs` is one connection.

pub mod client;
pub mod conn;
pub mod error;
pub mod event;
pub mod io;
pub mod keepalive;

use std::collections::{HashMap, HashSet};

use tungstenite::protocol::WebSocketConfig;

use crate::net::live_map::LiveMap;
use crate::reactor::ids::IdHasher;
pub use conn::{Followup, WsConn};
pub use event::Side;

/// Largest message (and frame) accepted by default: 16 MiB; bigger ones close with 1009.
pub const DEFAULT_MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// Bytes tungstenite reads per call. It zero-fills this much before each read, so small
/// keeps small messages cheap; `io.rs` receives in bigger chunks and hands them over.
const READ_BUFFER: usize = 4 * 1024;
/// Outgoing bytes a connection may queue before `send` fails (a peer that stops reading).
const MAX_WRITE_BUFFER: usize = 64 * 1024 * 1024;

/// The tungstenite settings for a connection accepting messages up to `max_message` bytes.
pub fn config(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER.max(max_message * 2))
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// A WebSocket server made by `websocket_server_create`.
#[derive(Default)]
pub struct WsServer {
    /// The HTTP server carrying it once started (its own listener).
    pub http: Option<u64>,
    /// Open client connections.
    pub clients: HashSet<u64, IdHasher>,
    /// Largest message accepted from its clients.
    pub max_message: usize,
    /// Unconsumed input of one client at which reading it pauses.
    pub max_input: usize,
    /// Idle timeout and automatic ping of its clients.
    pub keepalive: keepalive::Keepalive,
    /// The interval timer that applies `keepalive`, armed with the first client.
    pub sweep_timer: Option<u64>,
}

/// All WebSocket clients, servers and connections.
#[derive(Default)]
pub struct WebSockets {
    /// Client ids handed out by `websocket_client_create`.
    pub clients: HashSet<u64, IdHasher>,
    /// Servers by id.
    pub servers: HashMap<u64, WsServer, IdHasher>,
    /// Connections (clients' and servers') by id, counting the live ones (connects waiting
    /// for a name lookup are counted by the socket floor's lookups).
    pub conns: LiveMap<WsConn>,
}
