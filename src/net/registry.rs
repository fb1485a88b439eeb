//! All sockets of the process, by id: starting connections (with name resolution on the worker
//! pool and TLS when asked), routing readiness events and timeouts to the right socket, and
//! dropping sockets (deregistered, fd closed) as soon as they are finished.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::resolve;
use super::server::{ServerMode, TcpServer};
use super::tcp::{Phase, ReadKind, ReadRequest, TcpConn};
use super::tls::{self, TlsTransport};
use super::transport::{PlainTcp, Transport};
use super::udp::UdpSock;
use super::{EventQueue, NetEvent, TOKEN_OFFSET, Val, describe_io_error};
use crate::http::blocking::BlockingResponse;
use crate::http::client::{ClientRequest, Followup, HttpClient};
use crate::http::response::Response;
use crate::http::server::{HttpServers, ServerOptions};
use crate::reactor::ids::{IdCounter, IdHasher};
use crate::reactor::pool::{JobOutput, WorkerPool};
use crate::reactor::timers::{TimerAction, Timers};

/// Default limit for a connect, in seconds.
const CONNECT_TIMEOUT: f64 = 30.0;
/// How many ids of closed sockets are remembered for "closed" (rather than "unknown") errors.
const CLOSED_MEMORY: usize = 65_536;

/// TLS settings of a client connection.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    pub verify: bool,
    pub server_name: Option<String>,
    pub ca_file: Option<String>,
}

/// Options of `tcp_connect`.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub tls: Option<TlsOptions>,
    /// Connect timeout and, after it, the read timeout, in seconds.
    pub timeout: Option<f64>,
}

/// What a timer owned by the network layer ends.
#[derive(Debug, Clone, Copy)]
enum Deadline {
    Connect(u64),
    Read {
        conn: u64,
        op: u64,
    },
    Accept {
        server: u64,
        op: u64,
    },
    UdpRead {
        socket: u64,
        op: u64,
    },
    /// The interval that applies an HTTP server's timeouts (stays armed).
    HttpSweep(u64),
    /// The time limit of an HTTP client request.
    HttpRequest(u64),
}

struct PendingConnect {
    op: u64,
    host: String,
    options: ConnectOptions,
}

/// The reactor's borrowed parts that socket operations need.
pub struct NetContext<'a> {
    pub registry: &'a Registry,
    pub ids: &'a mut IdCounter,
    pub timers: &'a mut Timers,
    pub pool: &'a mut WorkerPool,
}

/// Every socket, and the queue of finished operations for Lua.
#[derive(Default)]
pub struct Net {
    conns: HashMap<u64, TcpConn, IdHasher>,
    servers: HashMap<u64, TcpServer, IdHasher>,
    udp: HashMap<u64, UdpSock, IdHasher>,
    resolving: HashMap<u64, PendingConnect, IdHasher>,
    deadlines: HashMap<u64, Deadline, IdHasher>,
    closed: HashSet<u64, IdHasher>,
    /// Embedded HTTP servers and their connections.
    pub http: HttpServers,
    /// The HTTP client's connections (busy and pooled).
    http_client: HttpClient,
    /// Client requests by operation: the connection serving them and their timeout timer.
    http_ops: HashMap<u64, (u64, Option<u64>), IdHasher>,
    /// Client requests waiting for a name lookup, by lookup job (= future connection id).
    http_resolving: HashMap<u64, (u64, ClientRequest), IdHasher>,
    /// Finished operations and events, in order.
    pub events: EventQueue,
}

fn token(id: u64) -> Token {
    Token(id as usize + TOKEN_OFFSET)
}

/// The handle id behind a poller token, if it is a socket's.
pub fn id_of(token: Token) -> Option<u64> {
    token.0.checked_sub(TOKEN_OFFSET).map(|id| id as u64)
}

impl Net {
    /// Sockets that keep the process alive (plus lookups in flight).
    pub fn alive(&self) -> usize {
        self.conns.values().filter(|conn| conn.is_alive()).count()
            + self
                .servers
                .values()
                .filter(|server| server.is_alive())
                .count()
            + self.udp.values().filter(|socket| socket.is_alive()).count()
            + self.http.alive()
            + self.http_client.in_flight()
            + self.http_resolving.len()
            + self.resolving.len()
    }

    /// `_PY.unref` / `_PY.ref` for sockets; false if `id` is no socket.
    pub fn set_referenced(&mut self, id: u64, referenced: bool) -> bool {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.referenced = referenced;
        } else if let Some(server) = self.servers.get_mut(&id) {
            server.referenced = referenced;
        } else if let Some(socket) = self.udp.get_mut(&id) {
            socket.referenced = referenced;
        } else {
            return self.http.set_referenced(id, referenced);
        }
        true
    }

    fn missing(&self, id: u64, what: &str) -> String {
        if self.closed.contains(&id) {
            "closed".into()
        } else {
            format!("unknown {what} id {id}")
        }
    }

    fn remember_closed(&mut self, id: u64) {
        if self.closed.len() >= CLOSED_MEMORY {
            self.closed.clear();
        }
        self.closed.insert(id);
    }

    fn arm(&mut self, ctx: &mut NetContext, seconds: f64, deadline: Deadline) -> u64 {
        let timer = ctx.ids.next_id();
        ctx.timers
            .add(timer, seconds * 1000.0, false, TimerAction::Net);
        ctx.timers.set_referenced(timer, false);
        self.deadlines.insert(timer, deadline);
        timer
    }

    fn disarm(&mut self, ctx: &mut NetContext, timer: Option<u64>) {
        if let Some(timer) = timer {
            ctx.timers.cancel(timer, TimerAction::Net);
            self.deadlines.remove(&timer);
        }
    }

    // ---- TCP client ------------------------------------------------------------------

    /// Starts connecting to `host:port`; `op` completes with `(true, id, msg)` or failure.
    pub fn connect(
        &mut self,
        ctx: &mut NetContext,
        host: &str,
        port: u16,
        options: ConnectOptions,
        op: u64,
    ) -> u64 {
        let id = ctx.ids.next_id();
        match resolve::literal(host, port) {
            Some(address) => self.open_connection(ctx, id, host, address, options, op),
            None => {
                let lookup_host = host.to_owned();
                let job = ctx.pool.submit(id, move || {
                    Box::new(resolve::lookup(&lookup_host, port)) as JobOutput
                });
                match job {
                    Ok(()) => {
                        let pending = PendingConnect {
                            op,
                            host: host.to_owned(),
                            options,
                        };
                        self.resolving.insert(id, pending);
                    }
                    Err(error) => self
                        .events
                        .push_back(NetEvent::failure(op, error.to_string())),
                }
            }
        }
        id
    }

    /// A name lookup finished on the worker pool; false if the job was not ours.
    pub fn on_job_done(&mut self, ctx: &mut NetContext, job: u64, output: JobOutput) -> bool {
        let output = match output.downcast::<BlockingResponse>() {
            Ok(response) => {
                self.events.push_back(response.into_event(job));
                return true;
            }
            Err(output) => output,
        };
        if let Some((op, request)) = self.http_resolving.remove(&job) {
            match output
                .downcast::<Result<SocketAddr, String>>()
                .map(|result| *result)
            {
                Ok(Ok(address)) => self.http_client.connect(
                    ctx.registry,
                    job,
                    address,
                    op,
                    request,
                    &mut self.events,
                ),
                Ok(Err(message)) => self.http_failed(ctx, op, message),
                Err(_) => self.http_failed(ctx, op, "internal error: bad lookup result".into()),
            }
            return true;
        }
        let Some(pending) = self.resolving.remove(&job) else {
            return false;
        };
        match output.downcast::<Result<SocketAddr, String>>() {
            Ok(result) => match *result {
                Ok(address) => self.open_connection(
                    ctx,
                    job,
                    &pending.host,
                    address,
                    pending.options,
                    pending.op,
                ),
                Err(message) => self
                    .events
                    .push_back(NetEvent::failure(pending.op, message)),
            },
            Err(_) => self.events.push_back(NetEvent::failure(
                pending.op,
                "internal error: bad lookup result",
            )),
        }
        true
    }

    fn open_connection(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        host: &str,
        address: SocketAddr,
        options: ConnectOptions,
        op: u64,
    ) {
        let stream = match TcpStream::connect(address) {
            Ok(stream) => stream,
            Err(error) => {
                self.events
                    .push_back(NetEvent::failure(op, describe_io_error(&error)));
                return;
            }
        };
        let transport: Box<dyn Transport> = match &options.tls {
            None => Box::new(PlainTcp::new(stream)),
            Some(tls_options) => {
                let config = match tls::client_config(
                    tls_options.verify,
                    tls_options.ca_file.as_deref().map(std::path::Path::new),
                ) {
                    Ok(config) => config,
                    Err(error) => {
                        self.events
                            .push_back(NetEvent::failure(op, error.to_string()));
                        return;
                    }
                };
                let name = tls_options.server_name.as_deref().unwrap_or(host);
                match TlsTransport::client(stream, config, name) {
                    Ok(transport) => Box::new(transport),
                    Err(error) => {
                        self.events
                            .push_back(NetEvent::failure(op, error.to_string()));
                        return;
                    }
                }
            }
        };
        let conn = TcpConn::new(id, transport, Phase::Connecting, address.to_string());
        self.finish_open(ctx, conn, options, op);
    }

    fn finish_open(
        &mut self,
        ctx: &mut NetContext,
        mut conn: TcpConn,
        options: ConnectOptions,
        op: u64,
    ) {
        let id = conn.id;
        if let Err(error) = ctx.registry.register(
            conn.transport.socket(),
            token(id),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.events
                .push_back(NetEvent::failure(op, describe_io_error(&error)));
            return;
        }
        conn.connect_op = Some(op);
        conn.timeout = options.timeout;
        let limit = options.timeout.unwrap_or(CONNECT_TIMEOUT);
        conn.connect_timer = Some(self.arm(ctx, limit, Deadline::Connect(id)));
        self.conns.insert(id, conn);
    }

    /// Queues `data` on connection `id`; `op`, if given, completes with `(true, bytes, msg)`.
    pub fn write(&mut self, ctx: &mut NetContext, id: u64, data: &[u8], op: Option<u64>) {
        match self.conns.get_mut(&id) {
            Some(conn) => conn.write(data, op, &mut self.events),
            None => {
                if let Some(op) = op {
                    let message = self.missing(id, "connection");
                    self.events.push_back(NetEvent::failure(op, message));
                }
            }
        }
        self.sweep(ctx, id);
    }

    /// Asks connection `id` for data; `op` completes with `(true, data, msg)` or a failure
    /// such as "timeout" or "closed". `timeout` overrides the connection's read timeout.
    pub fn read(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        kind: ReadKind,
        timeout: Option<f64>,
        op: u64,
    ) {
        let Some(conn) = self.conns.get(&id) else {
            let message = self.missing(id, "connection");
            self.events.push_back(NetEvent::failure(op, message));
            return;
        };
        let limit = timeout.or(conn.timeout);
        let timer = limit.map(|seconds| self.arm(ctx, seconds, Deadline::Read { conn: id, op }));
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.read(ReadRequest { op, kind, timer }, &mut self.events);
        }
        self.disarm_finished_reads(ctx, id);
        self.sweep(ctx, id);
    }

    /// Read timers whose reads already finished are cancelled.
    fn disarm_finished_reads(&mut self, ctx: &mut NetContext, id: u64) {
        let pending: HashSet<u64> = self
            .conns
            .get(&id)
            .map(|conn| conn.read_timers().collect())
            .unwrap_or_default();
        let stale: Vec<u64> = self
            .deadlines
            .iter()
            .filter(|(timer, deadline)| {
                matches!(deadline, Deadline::Read { conn, .. } if *conn == id)
                    && !pending.contains(timer)
            })
            .map(|(timer, _)| *timer)
            .collect();
        for timer in stale {
            self.disarm(ctx, Some(timer));
        }
    }

    /// Closes connection `id` (queued data is still sent); `op` completes with `(ok, msg)`.
    pub fn close(&mut self, ctx: &mut NetContext, id: u64, op: Option<u64>) {
        let result = match self.conns.get_mut(&id) {
            Some(conn) => {
                conn.close(&mut self.events);
                Ok(format!("Connection {id} closed"))
            }
            None => Err(self.missing(id, "connection")),
        };
        if let Some(op) = op {
            let values = match result {
                Ok(message) => vec![Val::Bool(true), Val::Text(message)],
                Err(message) => vec![Val::Bool(false), Val::Text(message)],
            };
            self.events.push_back(NetEvent::Complete { op, values });
        }
        self.disarm_finished_reads(ctx, id);
        self.sweep(ctx, id);
    }

    /// Sets the read timeout of connection `id` (seconds; `None`: none); false if unknown.
    pub fn set_timeout(&mut self, id: u64, seconds: Option<f64>) -> bool {
        match self.conns.get_mut(&id) {
            Some(conn) => {
                conn.timeout = seconds;
                true
            }
            None => match self.udp.get_mut(&id) {
                Some(socket) => {
                    socket.timeout = seconds;
                    true
                }
                None => false,
            },
        }
    }

    /// The read timeout of connection `id`: `None` if unknown, `Some(None)` if it has none.
    pub fn timeout(&self, id: u64) -> Option<Option<f64>> {
        self.conns
            .get(&id)
            .map(|conn| conn.timeout)
            .or_else(|| self.udp.get(&id).map(|socket| socket.timeout))
    }

    // ---- TCP servers -----------------------------------------------------------------

    /// Creates a server that is not listening yet.
    pub fn server_create(&mut self, ctx: &mut NetContext, mode: ServerMode) -> u64 {
        let id = ctx.ids.next_id();
        self.servers.insert(id, TcpServer::new(id, mode));
        id
    }

    /// Binds and starts listening; returns the bound address.
    pub fn server_start(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        host: &str,
        port: u16,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<SocketAddr, String> {
        let Some(server) = self.servers.get_mut(&id) else {
            return Err(self.missing(id, "server"));
        };
        if server.listener.is_some() {
            return Err(format!("server {id} is already listening"));
        }
        let (listener, local) = super::listen_on(ctx.registry, host, port, token(id))?;
        server.local = Some(local);
        server.listener = Some(listener);
        server.tls = tls;
        Ok(local)
    }

    /// Emit `data_received` events for server `id` (a listener for them was added).
    pub fn server_emit_data(&mut self, id: u64) {
        if let Some(server) = self.servers.get_mut(&id) {
            server.emit_data = true;
            for client in server.clients.clone() {
                if let Some(conn) = self.conns.get_mut(&client) {
                    conn.emit_data = true;
                }
            }
        }
    }

    /// Stops listening and closes the server's connections; false if unknown.
    pub fn server_close(&mut self, ctx: &mut NetContext, id: u64) -> bool {
        let Some(mut server) = self.servers.remove(&id) else {
            return false;
        };
        if let Some(mut listener) = server.listener.take() {
            let _ = ctx.registry.deregister(&mut listener);
        }
        for (op, timer) in server.accepts.drain(..) {
            self.disarm(ctx, timer);
            self.events.push_back(NetEvent::Complete {
                op,
                values: vec![accept_failure("server closed")],
            });
        }
        for client in server.clients.drain(..).chain(server.backlog.drain(..)) {
            if let Some(conn) = self.conns.get_mut(&client) {
                conn.close(&mut self.events);
            }
            self.sweep(ctx, client);
        }
        self.remember_closed(id);
        true
    }

    /// Waits for the next connection of a queue-mode server (`tcp_server_accept_sync`).
    pub fn accept(&mut self, ctx: &mut NetContext, id: u64, timeout: Option<f64>, op: u64) {
        if !self.servers.contains_key(&id) {
            let message = self.missing(id, "server");
            self.events.push_back(NetEvent::Complete {
                op,
                values: vec![accept_failure(&message)],
            });
            return;
        }
        let timer =
            timeout.map(|seconds| self.arm(ctx, seconds, Deadline::Accept { server: id, op }));
        if let Some(server) = self.servers.get_mut(&id) {
            server.accepts.push_back((op, timer));
        }
        self.serve_accepts(ctx, id);
    }

    fn serve_accepts(&mut self, ctx: &mut NetContext, id: u64) {
        let Some(server) = self.servers.get_mut(&id) else {
            return;
        };
        let before: Vec<Option<u64>> = server.accepts.iter().map(|(_, timer)| *timer).collect();
        let conns = &self.conns;
        server.serve_accepts(
            |client| {
                conns
                    .get(&client)
                    .map(|conn| conn.peer.clone())
                    .unwrap_or_default()
            },
            &mut self.events,
        );
        let after: HashSet<Option<u64>> = server.accepts.iter().map(|(_, timer)| *timer).collect();
        for timer in before.into_iter().filter(|timer| !after.contains(timer)) {
            self.disarm(ctx, timer);
        }
    }

    fn on_acceptable(&mut self, ctx: &mut NetContext, id: u64) {
        loop {
            let Some(server) = self.servers.get_mut(&id) else {
                return;
            };
            let Some(listener) = server.listener.as_mut() else {
                return;
            };
            let (stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    server.emit_error(
                        format!("accept failed: {}", describe_io_error(&error)),
                        &mut self.events,
                    );
                    break;
                }
            };
            let (mode, emit_data, tls) = (server.mode, server.emit_data, server.tls.clone());
            let client = ctx.ids.next_id();
            let transport: Box<dyn Transport> = match tls {
                None => Box::new(PlainTcp::new(stream)),
                Some(config) => match TlsTransport::server(stream, config) {
                    Ok(transport) => Box::new(transport),
                    Err(error) => {
                        server.emit_error(error.to_string(), &mut self.events);
                        continue;
                    }
                },
            };
            let mut conn = TcpConn::new(client, transport, Phase::Connecting, peer.to_string());
            conn.server = Some(id);
            if let Err(error) = ctx.registry.register(
                conn.transport.socket(),
                token(client),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                server.emit_error(format!("accept failed: {error}"), &mut self.events);
                continue;
            }
            match mode {
                ServerMode::Events => {
                    server.clients.push(client);
                    conn.emit_data = emit_data;
                }
                ServerMode::Queue => server.backlog.push_back(client),
            }
            conn.start_accepted(&mut self.events);
            self.conns.insert(client, conn);
        }
        self.serve_accepts(ctx, id);
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
        if self.http_client.owns(id) {
            let op_before = self.http_client.current_op(id);
            let followup = self
                .http_client
                .on_ready(ctx.registry, id, hangup, &mut self.events);
            if let Followup::Retry(op, request) = followup {
                self.http_send(ctx, request, op);
            } else if let Some(op) = op_before
                && self.http_client.current_op(id) != Some(op)
            {
                self.http_done(ctx, op);
            }
        } else if self.http.owns(id) {
            let ids = &mut *ctx.ids;
            self.http.on_ready(
                ctx.registry,
                &mut || ids.next_id(),
                id,
                readable,
                hangup,
                &mut self.events,
            );
        } else if self.servers.contains_key(&id) {
            self.on_acceptable(ctx, id);
        } else if let Some(conn) = self.conns.get_mut(&id) {
            let was_connecting =
                conn.phase == Phase::Connecting || conn.phase == Phase::Handshaking;
            if hangup {
                conn.transport.note_hangup();
            }
            conn.on_ready(readable, writable, &mut self.events);
            if was_connecting && conn.phase != Phase::Connecting && conn.phase != Phase::Handshaking
            {
                let timer = conn.connect_timer.take();
                self.disarm(ctx, timer);
            }
            self.disarm_finished_reads(ctx, id);
            self.sweep(ctx, id);
        } else if let Some(socket) = self.udp.get_mut(&id) {
            socket.on_ready(readable, writable, &mut self.events);
            self.disarm_finished_udp(ctx, id);
            self.sweep(ctx, id);
        }
    }

    /// A network timer fired; true if it was one of ours.
    pub fn on_timer(&mut self, ctx: &mut NetContext, timer: u64) -> bool {
        let Some(deadline) = self.deadlines.get(&timer).copied() else {
            return false;
        };
        if let Deadline::HttpSweep(server) = deadline {
            self.http.check_timeouts(ctx.registry, server);
            return true;
        }
        self.deadlines.remove(&timer);
        match deadline {
            Deadline::HttpSweep(_) => {}
            Deadline::HttpRequest(op) => {
                if let Some((conn, _)) = self.http_ops.remove(&op) {
                    if self.http_resolving.remove(&conn).is_some() {
                        self.events.push_back(NetEvent::failure(op, "timeout"));
                    } else {
                        self.http_client
                            .time_out(ctx.registry, conn, op, &mut self.events);
                    }
                }
            }
            Deadline::Connect(id) => {
                if let Some(conn) = self.conns.get_mut(&id) {
                    conn.connect_timer = None;
                    conn.fail("timeout", &mut self.events);
                }
                self.sweep(ctx, id);
            }
            Deadline::Read { conn, op } => {
                if let Some(connection) = self.conns.get_mut(&conn) {
                    connection.time_out_read(op, &mut self.events);
                }
            }
            Deadline::Accept { server, op } => {
                if let Some(server) = self.servers.get_mut(&server)
                    && let Some(index) = server.accepts.iter().position(|(accept, _)| *accept == op)
                {
                    server.accepts.remove(index);
                    self.events.push_back(NetEvent::Complete {
                        op,
                        values: vec![accept_failure("Accept timeout")],
                    });
                }
            }
            Deadline::UdpRead { socket, op } => {
                if let Some(socket) = self.udp.get_mut(&socket) {
                    socket.time_out_read(op, &mut self.events);
                }
            }
        }
        true
    }

    /// Drops socket `id` if it is finished: deregistered, fd closed, timers cancelled.
    fn sweep(&mut self, ctx: &mut NetContext, id: u64) {
        if self.conns.get(&id).is_some_and(TcpConn::is_finished) {
            if let Some(mut conn) = self.conns.remove(&id) {
                let _ = ctx.registry.deregister(conn.transport.socket());
                let timers: Vec<u64> = conn.read_timers().chain(conn.connect_timer).collect();
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
                let _ = ctx.registry.deregister(&mut socket.socket);
                let timers: Vec<u64> = socket.read_timers().collect();
                for timer in timers {
                    self.disarm(ctx, Some(timer));
                }
            }
            self.remember_closed(id);
        }
    }

    // ---- UDP ---------------------------------------------------------------------------

    /// Opens a UDP socket: bound to `bind` (receive from anyone) and/or connected to `peer`.
    pub fn udp_open(
        &mut self,
        ctx: &mut NetContext,
        bind: SocketAddr,
        peer: Option<SocketAddr>,
        broadcast: bool,
        timeout: Option<f64>,
    ) -> Result<(u64, SocketAddr), String> {
        let id = ctx.ids.next_id();
        let mut socket = UdpSock::open(bind, peer, broadcast)?;
        socket.timeout = timeout;
        ctx.registry
            .register(
                &mut socket.socket,
                token(id),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|error| error.to_string())?;
        let local = socket.local_addr();
        self.udp.insert(id, socket);
        Ok((id, local))
    }

    /// Sends one datagram (to the connected peer when `to` is `None`).
    pub fn udp_send(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        data: Vec<u8>,
        to: Option<SocketAddr>,
        op: u64,
    ) {
        match self.udp.get_mut(&id) {
            Some(socket) => socket.send(data, to, op, &mut self.events),
            None => {
                let message = self.missing(id, "UDP socket");
                self.events.push_back(NetEvent::failure(op, message));
            }
        }
        self.sweep(ctx, id);
    }

    /// Receives one datagram: `op` completes with `(true, data, msg, ip, port)`.
    pub fn udp_receive(&mut self, ctx: &mut NetContext, id: u64, max: usize, op: u64) {
        let Some(socket) = self.udp.get(&id) else {
            let message = self.missing(id, "UDP socket");
            self.events.push_back(NetEvent::failure(op, message));
            return;
        };
        let timer = socket
            .timeout
            .map(|seconds| self.arm(ctx, seconds, Deadline::UdpRead { socket: id, op }));
        if let Some(socket) = self.udp.get_mut(&id) {
            socket.receive(op, max, timer, &mut self.events);
        }
        self.disarm_finished_udp(ctx, id);
    }

    fn disarm_finished_udp(&mut self, ctx: &mut NetContext, id: u64) {
        let pending: HashSet<u64> = self
            .udp
            .get(&id)
            .map(|socket| socket.read_timers().collect())
            .unwrap_or_default();
        let stale: Vec<u64> = self
            .deadlines
            .iter()
            .filter(|(timer, deadline)| {
                matches!(deadline, Deadline::UdpRead { socket, .. } if *socket == id)
                    && !pending.contains(timer)
            })
            .map(|(timer, _)| *timer)
            .collect();
        for timer in stale {
            self.disarm(ctx, Some(timer));
        }
    }

    /// Closes UDP socket `id`; false if unknown.
    pub fn udp_close(&mut self, ctx: &mut NetContext, id: u64) -> bool {
        let Some(socket) = self.udp.get_mut(&id) else {
            return false;
        };
        socket.close(&mut self.events);
        self.sweep(ctx, id);
        true
    }

    // ---- HTTP servers -------------------------------------------------------------------

    /// Starts an HTTP server; returns its id and bound address.
    pub fn http_start(
        &mut self,
        ctx: &mut NetContext,
        host: &str,
        port: u16,
        options: ServerOptions,
    ) -> Result<(u64, SocketAddr), String> {
        let id = ctx.ids.next_id();
        let sweep = ctx.ids.next_id();
        let period = options
            .read_timeout
            .min(options.idle_timeout)
            .as_secs_f64()
            .clamp(0.05, 1.0);
        let address = self
            .http
            .start(ctx.registry, id, sweep, host, port, options)?;
        ctx.timers
            .add(sweep, period * 1000.0, true, TimerAction::Net);
        ctx.timers.set_referenced(sweep, false);
        self.deadlines.insert(sweep, Deadline::HttpSweep(id));
        Ok((id, address))
    }

    /// Stops HTTP server `id`; false if unknown.
    pub fn http_stop(&mut self, ctx: &mut NetContext, id: u64) -> bool {
        match self.http.stop(ctx.registry, id) {
            Some(sweep) => {
                ctx.timers.cancel(sweep, TimerAction::Net);
                self.deadlines.remove(&sweep);
                self.remember_closed(id);
                true
            }
            None => false,
        }
    }

    /// A handler finished: send its response.
    pub fn http_respond(
        &mut self,
        ctx: &mut NetContext,
        conn: u64,
        seq: u64,
        response: &Response,
    ) -> bool {
        self.http
            .respond(ctx.registry, conn, seq, response, &mut self.events)
    }

    // ---- HTTP client --------------------------------------------------------------------

    /// Sends `request` as operation `op`, reusing a pooled connection when one is idle;
    /// `timeout` (seconds) limits the whole exchange.
    pub fn http_request(
        &mut self,
        ctx: &mut NetContext,
        request: ClientRequest,
        timeout: Option<f64>,
        op: u64,
    ) {
        let timer = timeout.map(|seconds| self.arm(ctx, seconds, Deadline::HttpRequest(op)));
        self.http_ops.insert(op, (0, timer));
        self.http_send(ctx, request, op);
    }

    fn http_send(&mut self, ctx: &mut NetContext, request: ClientRequest, op: u64) {
        let conn = match self.http_client.try_pooled(op, request, &mut self.events) {
            Ok(conn) => conn,
            Err(request) => {
                let request = *request;
                let id = ctx.ids.next_id();
                match resolve::literal(&request.url.host, request.url.port) {
                    Some(address) => {
                        self.http_client.connect(
                            ctx.registry,
                            id,
                            address,
                            op,
                            request,
                            &mut self.events,
                        );
                    }
                    None => {
                        let (host, port) = (request.url.host.clone(), request.url.port);
                        let job = ctx.pool.submit(id, move || {
                            Box::new(resolve::lookup(&host, port)) as JobOutput
                        });
                        match job {
                            Ok(()) => {
                                self.http_resolving.insert(id, (op, request));
                            }
                            Err(error) => {
                                self.http_failed(ctx, op, error.to_string());
                                return;
                            }
                        }
                    }
                }
                id
            }
        };
        match self.http_ops.get_mut(&op) {
            Some(entry) => entry.0 = conn,
            None => {
                self.http_ops.insert(op, (conn, None));
            }
        }
        if self.http_client.current_op(conn) != Some(op) && !self.http_resolving.contains_key(&conn)
        {
            // Finished (or failed) at once.
            self.http_done(ctx, op);
        }
    }

    fn http_failed(&mut self, ctx: &mut NetContext, op: u64, message: String) {
        self.events.push_back(NetEvent::failure(op, message));
        self.http_done(ctx, op);
    }

    /// Forgets a finished client request and cancels its timeout.
    fn http_done(&mut self, ctx: &mut NetContext, op: u64) {
        if let Some((_, timer)) = self.http_ops.remove(&op) {
            self.disarm(ctx, timer);
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

fn accept_failure(message: &str) -> Val {
    Val::Record(vec![
        ("success", Val::Bool(false)),
        ("client_id", Val::Nil),
        ("message", Val::Text(message.to_owned())),
    ])
}
