//! A listening TCP server: accepts connections as [`TcpConn`]s (plain or TLS) and either
//! announces them as events (`client_connected`, `data_received`, ...) or, for the
//! blocking-style family, queues them for `tcp_server_accept_sync`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use mio::net::TcpListener;

use crate::event::{EventQueue, NetEvent, Val};
use crate::net::caps::{self, ServerCount};

/// How a server hands over its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerMode {
    /// Events to listeners (`tcp_server_create`).
    Events,
    /// A queue that `tcp_server_accept_sync` takes from (`tcp_server_create_sync`).
    Queue,
}

/// A TCP server.
pub struct TcpServer {
    pub id: u64,
    pub mode: ServerMode,
    pub listener: Option<TcpListener>,
    pub local: Option<SocketAddr>,
    /// Server-side TLS, when the server was started with a certificate.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Input bounds of every accepted connection.
    pub limits: crate::net::reads::InputLimits,
    /// Emit `data_received` (a listener for it exists) instead of buffering for reads.
    pub emit_data: bool,
    /// Accepted connections not yet taken by `accept` (queue mode).
    pub backlog: VecDeque<u64>,
    /// Waiting `accept` operations and their timeout timers.
    pub accepts: VecDeque<(u64, Option<u64>)>,
    /// Connections accepted by this server that are still open.
    pub clients: Vec<u64>,
    pub referenced: bool,
    /// Open connections at most; past it a new client is closed at once.
    pub max_connections: usize,
    /// Its open connections (every accepted one holds a slot of it until closed).
    pub count: ServerCount,
}

impl TcpServer {
    /// A server not yet listening.
    pub fn new(id: u64, mode: ServerMode) -> TcpServer {
        TcpServer {
            id,
            mode,
            listener: None,
            local: None,
            tls: None,
            limits: crate::net::reads::InputLimits::default(),
            emit_data: false,
            backlog: VecDeque::new(),
            accepts: VecDeque::new(),
            clients: Vec::new(),
            referenced: true,
            max_connections: caps::per_server_default(),
            count: ServerCount::default(),
        }
    }

    /// True while listening and referenced.
    pub fn is_alive(&self) -> bool {
        self.referenced && self.listener.is_some()
    }

    /// Hands queued connections to waiting `accept` operations.
    pub fn serve_accepts(&mut self, peers: impl Fn(u64) -> String, events: &mut EventQueue) {
        while !self.backlog.is_empty() && !self.accepts.is_empty() {
            let (Some(client), Some((op, _))) =
                (self.backlog.pop_front(), self.accepts.pop_front())
            else {
                break;
            };
            events.push_back(NetEvent::Complete {
                op,
                values: vec![Val::Record(vec![
                    ("success", Val::Bool(true)),
                    ("client_id", Val::Int(client as i64)),
                    (
                        "message",
                        Val::Text(format!("Accepted from {}", peers(client))),
                    ),
                ])],
            });
        }
    }

    /// Emits the `error` event.
    pub fn emit_error(&self, message: String, events: &mut EventQueue) {
        events.push_back(NetEvent::Emit {
            owner: self.id,
            event: "error",
            args: vec![Val::Text(message)],
        });
    }
}

impl crate::net::live_map::Alive for TcpServer {
    fn is_alive(&self) -> bool {
        TcpServer::is_alive(self)
    }
}
