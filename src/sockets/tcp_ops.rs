//! TCP clients and TCP servers in the socket table: connecting (with name lookups on the
//! worker pool and TLS), reads, writes, timeouts, closing; servers in event and queue mode.

use super::lookups::Waiting;
use super::*;
use crate::net::caps::{self, CapSlot};

/// Options of `tcp_server_start`.
#[derive(Default)]
pub struct TcpServerOptions {
    /// Server-side TLS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Input bounds of every accepted connection.
    pub limits: crate::net::tcp::InputLimits,
    /// The server's connection cap (`None`: `caps::per_server_default()`).
    pub max_connections: Option<usize>,
}

impl Net {
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
        let waiting = Waiting::Tcp {
            op,
            host: host.to_owned(),
            options,
        };
        self.dial(ctx, id, host, port, waiting);
        id
    }

    /// Opens connection `id` to `address` (the dial path found it for `host`).
    pub(super) fn open_connection(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        host: &str,
        address: SocketAddr,
        options: ConnectOptions,
        op: u64,
    ) {
        let transport = match connect::open(address, host, options.tls.as_ref()) {
            Ok(transport) => transport,
            Err(error) => {
                self.events
                    .push_back(NetEvent::failure(op, error.to_string()));
                return;
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
        if let Err(error) = self.table.register(
            conn.transport.socket(),
            id,
            Interest::READABLE | Interest::WRITABLE,
            Owner::TcpStream,
        ) {
            self.events
                .push_back(NetEvent::failure(op, describe_io_error(&error)));
            return;
        }
        conn.connect_op = Some(op);
        conn.timeout = options.timeout;
        conn.limits = options.limits;
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
        self.tcp_follow(ctx, id);
        self.sweep(ctx, id);
    }

    /// Arms the timer that goes on reading connection `id` next turn, if it stopped with data
    /// left (its turn budget spent, or its events not yet run).
    pub(super) fn tcp_follow(&mut self, ctx: &mut NetContext, id: u64) {
        let wanted = self
            .conns
            .get(&id)
            .is_some_and(|conn| conn.wants_resume() && conn.resume_timer.is_none());
        if wanted {
            let timer = self.arm(ctx, 0.0, Deadline::Resume(id));
            if let Some(conn) = self.conns.get_mut(&id) {
                conn.resume_timer = Some(timer);
            }
        }
    }

    /// The resume timer of connection `id` (TCP, HTTP client or WebSocket) fired: read on.
    pub(super) fn resume_reading(&mut self, ctx: &mut NetContext, id: u64) {
        match self.table.owner(id) {
            Some(Owner::TcpStream) => {
                let drained = self.events.is_empty();
                if let Some(conn) = self.conns.get_mut(&id) {
                    conn.resume_timer = None;
                    if drained {
                        conn.events_consumed();
                    }
                    conn.resume(&mut self.events);
                }
                self.disarm_finished_reads(ctx, id);
                self.tcp_follow(ctx, id);
                self.sweep(ctx, id);
            }
            Some(Owner::HttpClientConn) => self.http_client_resume(ctx, id),
            Some(Owner::WebSocket) => self.ws_resume(ctx, id),
            _ => {}
        }
    }

    /// Cancels the timeout timers of the reads connection `id` finished.
    pub(super) fn disarm_finished_reads(&mut self, ctx: &mut NetContext, id: u64) {
        let done = match self.conns.get_mut(&id) {
            Some(conn) => conn.take_done_timers(),
            None => return,
        };
        for timer in done {
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
                Err(error) => vec![Val::Bool(false), Val::Text(error.to_string())],
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
        id: u64,
        host: &str,
        port: u16,
        options: TcpServerOptions,
    ) -> Result<SocketAddr, SocketError> {
        let TcpServerOptions {
            tls,
            limits,
            max_connections,
        } = options;
        let Some(server) = self.servers.get_mut(&id) else {
            return Err(self.missing(id, "server"));
        };
        if server.listener.is_some() {
            return Err(SocketError::AlreadyListening(id));
        }
        let (listener, local) =
            crate::net::listen_on(&mut self.table, host, port, id, Owner::TcpListener)?;
        server.local = Some(local);
        server.listener = Some(listener);
        server.tls = tls;
        server.limits = limits;
        if let Some(max) = max_connections {
            server.max_connections = max.max(1);
        }
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
            self.table.deregister(&mut listener, id);
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
                values: vec![accept_failure(&message.to_string())],
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

    pub(super) fn on_acceptable(&mut self, ctx: &mut NetContext, id: u64) {
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
            if server.count.open() >= server.max_connections
                || (caps::total_full() && !self.http.evict_idlest_anywhere(&mut self.table))
            {
                self.refuse(ctx, stream, &[]);
                continue;
            }
            let Some(server) = self.servers.get_mut(&id) else {
                return;
            };
            let (mode, emit_data, tls, limits) = (
                server.mode,
                server.emit_data,
                server.tls.clone(),
                server.limits,
            );
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
            conn.cap_slot = Some(CapSlot::take(&server.count));
            conn.limits = limits;
            if let Err(error) = self.table.register(
                conn.transport.socket(),
                client,
                Interest::READABLE | Interest::WRITABLE,
                Owner::TcpStream,
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
}

pub(super) fn accept_failure(message: &str) -> Val {
    Val::Record(vec![
        ("success", Val::Bool(false)),
        ("client_id", Val::Nil),
        ("message", Val::Text(message.to_owned())),
    ])
}
