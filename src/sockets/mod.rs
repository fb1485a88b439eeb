//! The socket floor above the reactor: every socket of the process by id (TCP connections and
//! servers, UDP sockets, HTTP servers and client connections, WebSocket connections), routing
//! each readiness event by one lookup in the socket table (`net/socket_table.rs`, the only
//! registrant with the poller) and dropping sockets (deregistered, fd closed) as soon as they
//! are finished. This file holds the sockets' state and the routing; the operations live by kind
//! in `tcp_ops.rs`, `udp_ops.rs`, `http_ops.rs` and `ws_ops.rs`, name lookups (the first half
//! of the one dial path) in `lookups.rs`, time limits in `deadlines.rs`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use mio::Interest;

mod closed;
mod deadlines;
mod http_ops;
mod lookups;
mod shutdown;
mod tcp_ops;
mod udp_ops;
mod ws_ops;

pub use tcp_ops::TcpServerOptions;
pub use ws_ops::{WsConnectOptions, WsServerOptions, WsSizes};

use deadlines::Deadline;

use crate::event::{EventQueue, NetEvent, Val};
use crate::http::blocking::BlockingResponse;
use crate::http::client::{ClientRequest, Followup, HttpClient};
use crate::http::response::Response;
use crate::http::server::{HttpServers, ServerOptions};
use crate::net::connect;
use crate::net::describe_io_error;
use crate::net::error::SocketError;
use crate::net::live_map::LiveMap;
use crate::net::refuse::{self, Refusals};
use crate::net::resolve::LookupError;
use crate::net::server::{ServerMode, TcpServer};
use crate::net::socket_table::{Owner, SocketTable};
use crate::net::tcp::{Phase, ReadKind, ReadRequest, TcpConn};
use crate::net::tls::{TlsOptions, TlsTransport};
use crate::net::transport::{PlainTcp, Transport};
use crate::net::udp::UdpSock;
use crate::reactor::SocketLayer;
use crate::reactor::ids::IdHasher;
use crate::reactor::pool::JobOutput;
use crate::reactor::timers::TimerAction;
use crate::ws::WebSockets;

/// Default limit for a connect, in seconds.
const CONNECT_TIMEOUT: f64 = 30.0;
/// Capacity the event queue keeps once a burst has drained.
const EVENTS_KEPT: usize = 1024;

/// Options of `tcp_connect`.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub tls: Option<TlsOptions>,
    /// Connect timeout and, after it, the read timeout, in seconds.
    pub timeout: Option<f64>,
    /// The connection's input bounds (`max_input`, `max_line`, `max_read`).
    pub limits: crate::net::reads::InputLimits,
}

pub use crate::reactor::NetContext;

/// The reactor with this socket table on it: what the runtime and the Lua bindings hold.
pub type Reactor = crate::reactor::Reactor<Net>;
/// The reactor as the runtime and the Lua bindings share it (single-threaded).
pub type SharedReactor = std::rc::Rc<std::cell::RefCell<Reactor>>;

/// Counts of open sockets and operations by kind ([`Net::activity`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Activity {
    pub tcp: usize,
    pub udp: usize,
    pub tcp_servers: usize,
    pub websocket: usize,
    pub websocket_servers: usize,
    pub http: usize,
}

/// Every socket, and the queue of finished operations for Lua.
pub struct Net {
    /// Every socket in the poller with its owner; the only registrant.
    table: SocketTable,
    /// TCP connections, TCP servers and UDP sockets, each map counting its live sockets.
    conns: LiveMap<TcpConn>,
    servers: LiveMap<TcpServer>,
    udp: LiveMap<UdpSock>,
    deadlines: HashMap<u64, Deadline, IdHasher>,
    /// Recently closed socket ids, for "closed" (rather than "unknown") errors.
    closed: closed::ClosedIds,
    /// Embedded HTTP servers and their connections.
    pub http: HttpServers,
    /// The HTTP client's connections (busy and pooled).
    http_client: HttpClient,
    /// Client requests by operation: the connection serving them and their timeout timer.
    http_ops: HashMap<u64, (u64, Option<u64>), IdHasher>,
    /// WebSocket clients, servers and connections.
    ws: WebSockets,
    /// Whatever waits for a name lookup (connects, datagrams, `core.resolve`), by lookup job.
    lookups: HashMap<u64, lookups::Waiting, IdHasher>,
    /// Clients refused past a connection cap, drained before they are closed.
    refusals: Refusals,
    /// Finished operations and events, in order.
    pub events: EventQueue,
}

impl Net {
    /// An empty socket floor registering with `registry`.
    pub fn new(registry: mio::Registry) -> Net {
        Net {
            table: SocketTable::new(registry),
            conns: LiveMap::default(),
            servers: LiveMap::default(),
            udp: LiveMap::default(),
            deadlines: HashMap::default(),
            closed: closed::ClosedIds::default(),
            http: HttpServers::default(),
            http_client: HttpClient::default(),
            http_ops: HashMap::default(),
            ws: WebSockets::default(),
            lookups: HashMap::default(),
            refusals: Refusals::default(),
            events: EventQueue::default(),
        }
    }

    /// Does any socket or lookup keep the process alive? Everything is answered from counts
    /// (the socket maps count their live sockets as they change), so a loop turn costs the
    /// same with 10 or 10,000 idle connections.
    pub fn is_alive(&self) -> bool {
        !self.lookups.is_empty()
            || self.http.is_alive()
            || self.http_client.is_busy()
            || self.ws.conns.any_alive()
            || self.servers.any_alive()
            || self.udp.any_alive()
            || self.conns.any_alive()
    }

    /// What is open, by kind (for the original's `has_active_*_operations` and
    /// `tcp_server_is_ready`): read-only counts, nothing changes.
    pub fn activity(&self) -> Activity {
        let waiting = self.waiters();
        Activity {
            tcp: self.conns.len() + waiting.tcp,
            udp: self.udp.len() + waiting.udp,
            tcp_servers: self.servers.len(),
            websocket: self.ws.conns.len() + waiting.websocket,
            websocket_servers: self.ws.servers.len(),
            http: self.http_client.in_flight() + waiting.http,
        }
    }

    /// Is server `id` listening (a TCP server started and not closed)?
    pub fn server_listening(&self, id: u64) -> bool {
        self.servers
            .get(&id)
            .is_some_and(|server| server.listener.is_some())
    }

    /// `_PY.unref` / `_PY.ref` for sockets; false if `id` is no socket.
    pub fn set_referenced(&mut self, id: u64, referenced: bool) -> bool {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.referenced = referenced;
        } else if let Some(server) = self.servers.get_mut(&id) {
            server.referenced = referenced;
        } else if let Some(socket) = self.udp.get_mut(&id) {
            socket.referenced = referenced;
        } else if let Some(conn) = self.ws.conns.get_mut(&id) {
            conn.referenced = referenced;
        } else if let Some(http) = self.ws.servers.get(&id).and_then(|server| server.http) {
            return self.http.set_referenced(http, referenced);
        } else {
            return self.http.set_referenced(id, referenced);
        }
        true
    }

    /// Why socket `id` of kind `what` is not there.
    fn missing(&self, id: u64, what: &'static str) -> SocketError {
        if self.closed.contains(id) {
            SocketError::Closed
        } else {
            SocketError::Unknown { what, id }
        }
    }

    fn remember_closed(&mut self, id: u64) {
        self.closed.remember(id);
    }

    pub fn on_job_done(&mut self, ctx: &mut NetContext, job: u64, output: JobOutput) -> bool {
        let output = match output.downcast::<BlockingResponse>() {
            Ok(response) => {
                self.events.push_back(response.into_event(job));
                return true;
            }
            Err(output) => output,
        };
        // Every other job is a name lookup (`lookups.rs`).
        match output.downcast::<Result<SocketAddr, LookupError>>() {
            Ok(answer) => self.on_lookup(ctx, job, *answer),
            Err(_) => false,
        }
    }

    // ---- readiness, timers, cleanup --------------------------------------------------

    /// Routes a readiness event to socket `id`.
    pub fn on_ready(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        readable: bool,
        writable: bool,
        hangup: bool,
    ) {
        if self.events.is_empty() && self.events.capacity() > EVENTS_KEPT {
            // A burst is over: give its queue memory back.
            self.events.shrink_to(EVENTS_KEPT);
        }
        let Some(owner) = self.table.owner(id) else {
            // It left the poller earlier in this batch of events.
            return;
        };
        match owner {
            Owner::WebSocket => {
                self.ws_on_ready(ctx, id, readable, writable, hangup);
            }
            Owner::HttpClientConn => {
                let op_before = self.http_client.current_op(id);
                let followup =
                    self.http_client
                        .on_ready(&mut self.table, id, hangup, &mut self.events);
                self.http_follow(ctx, id, op_before, followup);
            }
            Owner::HttpListener | Owner::HttpConn => {
                let ids = &mut *ctx.ids;
                self.http.on_ready(
                    &mut self.table,
                    &mut || ids.next_id(),
                    id,
                    readable,
                    hangup,
                    &mut self.events,
                );
                self.ws_take_upgrades(ctx);
                self.answer_refused(ctx);
            }
            Owner::TcpListener => self.on_acceptable(ctx, id),
            Owner::TcpStream => self.tcp_on_ready(ctx, id, readable, writable, hangup),
            Owner::Udp => {
                if let Some(socket) = self.udp.get_mut(&id) {
                    socket.on_ready(readable, writable, &mut self.events);
                }
                self.disarm_finished_udp(ctx, id);
                self.sweep(ctx, id);
            }
            Owner::Refusal => {
                self.refusals.on_ready(&mut self.table, id);
            }
        }
    }

    /// Readiness of TCP connection `id`.
    fn tcp_on_ready(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        readable: bool,
        writable: bool,
        hangup: bool,
    ) {
        let drained = self.events.is_empty();
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let was_connecting = conn.phase == Phase::Connecting || conn.phase == Phase::Handshaking;
        if hangup {
            conn.transport.note_hangup();
        }
        if drained {
            conn.events_consumed();
        }
        conn.on_ready(readable, writable, &mut self.events);
        if was_connecting && conn.phase != Phase::Connecting && conn.phase != Phase::Handshaking {
            let timer = conn.connect_timer.take();
            self.disarm(ctx, timer);
        }
        self.disarm_finished_reads(ctx, id);
        self.tcp_follow(ctx, id);
        self.sweep(ctx, id);
    }

    /// Refuses a client past a connection cap: `answer` (may be empty), FIN, and its input
    /// drained for at most [`refuse::LINGER`] seconds (`net/refuse.rs`).
    pub(super) fn refuse(
        &mut self,
        ctx: &mut NetContext,
        stream: mio::net::TcpStream,
        answer: &[u8],
    ) {
        let id = ctx.ids.next_id();
        if self.refusals.refuse(&mut self.table, id, stream, answer) {
            self.arm(ctx, refuse::LINGER, Deadline::Refusal(id));
        }
    }

    /// Answers the clients the HTTP servers refused past a cap with 503 (TLS ones: the close).
    pub(super) fn answer_refused(&mut self, ctx: &mut NetContext) {
        for (stream, tls) in self.http.take_refused() {
            let answer = if tls { &[][..] } else { refuse::HTTP_BUSY };
            self.refuse(ctx, stream, answer);
        }
    }

    /// Drops socket `id` if it is finished: deregistered, fd closed, timers cancelled.
    fn sweep(&mut self, ctx: &mut NetContext, id: u64) {
        if self.conns.get(&id).is_some_and(TcpConn::is_finished) {
            if let Some(mut conn) = self.conns.remove(&id) {
                self.table.deregister(conn.transport.socket(), id);
                let mut timers: Vec<u64> = conn
                    .read_timers()
                    .chain(conn.connect_timer)
                    .chain(conn.resume_timer)
                    .collect();
                timers.extend(conn.take_done_timers());
                for timer in timers {
                    self.disarm(ctx, Some(timer));
                }
                for server in self.servers.values_mut() {
                    server.clients.retain(|client| *client != id);
                    server.backlog.retain(|client| *client != id);
                }
            }
            self.remember_closed(id);
        } else if self.udp.get(&id).is_some_and(UdpSock::is_finished) {
            if let Some(mut socket) = self.udp.remove(&id) {
                self.table.deregister(&mut socket.socket, id);
                let mut timers: Vec<u64> = socket.read_timers().collect();
                timers.extend(socket.take_done_timers());
                for timer in timers {
                    self.disarm(ctx, Some(timer));
                }
            }
            self.remember_closed(id);
        }
    }

    /// Abandons operation `op` (a blocking wait gave up): a waiting read, accept or receive is
    /// removed without a completion, so no data is consumed for nobody.
    pub fn cancel(&mut self, op: u64) {
        for conn in self.conns.values_mut() {
            conn.time_out_read(op, &mut self.events);
        }
        for socket in self.udp.values_mut() {
            socket.time_out_read(op, &mut self.events);
        }
        for server in self.servers.values_mut() {
            server.accepts.retain(|(accept, _)| *accept != op);
        }
        self.events
            .retain(|event| !matches!(event, NetEvent::Complete { op: done, .. } if *done == op));
    }
}

impl SocketLayer for Net {
    fn new(registry: mio::Registry) -> Net {
        Net::new(registry)
    }

    fn on_ready(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        readable: bool,
        writable: bool,
        hangup: bool,
    ) {
        Net::on_ready(self, ctx, id, readable, writable, hangup);
    }

    fn on_timer(&mut self, ctx: &mut NetContext, timer: u64) -> bool {
        Net::on_timer(self, ctx, timer)
    }

    fn on_job_done(&mut self, ctx: &mut NetContext, job: u64, output: JobOutput) -> bool {
        Net::on_job_done(self, ctx, job, output)
    }

    fn is_alive(&self) -> bool {
        Net::is_alive(self)
    }

    fn set_referenced(&mut self, id: u64, referenced: bool) -> bool {
        Net::set_referenced(self, id, referenced)
    }

    fn events(&mut self) -> &mut EventQueue {
        &mut self.events
    }

    fn pending_events(&self) -> usize {
        self.events.len()
    }
}
