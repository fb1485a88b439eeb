//! Embedded HTTP servers: listeners, their connections ([`HttpConn`]) and the limits that keep
//! one client from hurting the others — a connection cap per server and the process-wide one
//! (`net/caps.rs`: a new client past either closes the idlest keep-alive connection, or is
//! refused with 503 when nothing is idle), per-request read timeout (408) and idle keep-alive
//! timeout, checked by one unreferenced interval timer per server.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Interest;
use mio::net::TcpListener;

use super::buffers;
use super::conn::{HttpConn, State};
use super::request::Limits;
use super::response::Response;
use super::static_files::{MountError, MountOptions, StaticFiles};
use super::upgrade::Upgraded;
pub use super::upgrade::WsRoutes;
use crate::event::{EventQueue, NetEvent, Val};
use crate::net::caps::{self, CapSlot, ServerCount};
use crate::net::error::SocketError;
use crate::net::socket_table::{Owner, SocketTable};
use crate::net::tls::TlsTransport;
use crate::net::transport::{PlainTcp, Transport};
use crate::reactor::ids::IdHasher;

/// Configuration of one server.
#[derive(Clone)]
pub struct ServerOptions {
    pub limits: Limits,
    /// Open connections at most (upgraded WebSocket connections included): past it a new
    /// client closes the idlest keep-alive connection, or is refused with 503 when every
    /// connection is busy.
    pub max_connections: usize,
    /// Keep-alive connections idle longer than this are closed.
    pub idle_timeout: Duration,
    /// A request must arrive completely within this once it started.
    pub read_timeout: Duration,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Paths whose upgrade requests go to WebSocket servers.
    pub websocket: Option<Arc<WsRoutes>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            limits: Limits::default(),
            max_connections: caps::per_server_default(),
            idle_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(10),
            tls: None,
            websocket: None,
        }
    }
}

struct Server {
    listener: TcpListener,
    options: ServerOptions,
    conns: HashSet<u64, IdHasher>,
    /// Its open connections, upgraded ones included (their slots hold it).
    count: ServerCount,
    referenced: bool,
    /// Directories mounted with `server:static`, shared with the connections.
    static_files: Option<Arc<StaticFiles>>,
    /// The interval timer that checks timeouts.
    pub sweep_timer: u64,
}

/// All HTTP servers and their connections.
#[derive(Default)]
pub struct HttpServers {
    servers: HashMap<u64, Server, IdHasher>,
    conns: HashMap<u64, HttpConn, IdHasher>,
    /// Connections upgraded to WebSocket, for the socket table to take.
    upgrades: Vec<Upgraded>,
    /// Connections of stopped servers still sending the responses they owe.
    draining: HashSet<u64, IdHasher>,
    /// Clients refused past a cap, for the socket table to answer (`net/refuse.rs`), and
    /// whether their server speaks TLS (they get no plain-text 503 then, only the close).
    refused: Vec<(mio::net::TcpStream, bool)>,
}

/// Makes room on a full `server` by closing its connection that has been idle the longest
/// (between requests, nothing owed); false if every connection is busy.
fn evict_idlest(
    table: &mut SocketTable,
    server: &mut Server,
    conns: &mut HashMap<u64, HttpConn, IdHasher>,
) -> bool {
    let idlest = server
        .conns
        .iter()
        .filter_map(|id| Some((conns.get(id)?.idle_since()?, *id)))
        .min();
    let Some((_, id)) = idlest else {
        return false;
    };
    server.conns.remove(&id);
    if let Some(mut conn) = conns.remove(&id) {
        conn.close();
        table.deregister(conn.transport.socket(), id);
    }
    true
}

impl HttpServers {
    /// Does a listening server (or a draining connection) keep the process alive?
    pub fn is_alive(&self) -> bool {
        !self.draining.is_empty() || self.servers.values().any(|server| server.referenced)
    }

    /// `_PY.unref`/`ref` on a server id.
    pub fn set_referenced(&mut self, id: u64, referenced: bool) -> bool {
        match self.servers.get_mut(&id) {
            Some(server) => {
                server.referenced = referenced;
                true
            }
            None => false,
        }
    }

    /// Binds `host:port` and starts serving as server `id`.
    pub fn start(
        &mut self,
        table: &mut SocketTable,
        id: u64,
        sweep_timer: u64,
        host: &str,
        port: u16,
        options: ServerOptions,
    ) -> Result<SocketAddr, SocketError> {
        let (listener, local) = crate::net::listen_on(table, host, port, id, Owner::HttpListener)?;
        self.servers.insert(
            id,
            Server {
                listener,
                options,
                conns: HashSet::default(),
                count: ServerCount::default(),
                referenced: true,
                static_files: None,
                sweep_timer,
            },
        );
        Ok(local)
    }

    /// Stops server `id`: it stops listening and its idle connections close; a connection
    /// whose request is being handled still gets its response (so a handler may stop its own
    /// server), then closes. Returns the server's sweep timer.
    pub fn stop(
        &mut self,
        table: &mut SocketTable,
        id: u64,
        events: &mut EventQueue,
    ) -> Option<u64> {
        let mut server = self.servers.remove(&id)?;
        table.deregister(&mut server.listener, id);
        for conn_id in server.conns.drain() {
            if let Some(conn) = self.conns.get_mut(&conn_id) {
                conn.close_after_responses();
                self.draining.insert(conn_id);
            }
            self.sweep_closed(table, conn_id, events);
        }
        Some(server.sweep_timer)
    }

    /// Routes readiness; false if `id` is not ours.
    pub fn on_ready(
        &mut self,
        table: &mut SocketTable,
        next_id: &mut dyn FnMut() -> u64,
        id: u64,
        readable: bool,
        hangup: bool,
        events: &mut EventQueue,
    ) -> bool {
        if self.servers.contains_key(&id) {
            self.accept(table, next_id, id);
            return true;
        }
        let Some(conn) = self.conns.get_mut(&id) else {
            return false;
        };
        if hangup {
            conn.transport.note_hangup();
        }
        conn.on_ready(readable, events);
        if let Some(op) = conn.take_drained() {
            events.push_back(NetEvent::Complete {
                op,
                values: vec![Val::Bool(true)],
            });
        }
        self.sweep_closed(table, id, events);
        true
    }

    /// Mounts `directory` at `prefix` on server `id` (`server:static`).
    pub fn add_static(
        &mut self,
        id: u64,
        prefix: &str,
        directory: &std::path::Path,
        options: MountOptions,
    ) -> Result<bool, MountError> {
        let Some(server) = self.servers.get_mut(&id) else {
            return Ok(false);
        };
        let mut files = match server.static_files.take() {
            Some(files) => Arc::unwrap_or_clone(files),
            None => StaticFiles::default(),
        };
        let mounted = files.mount(prefix, directory, options);
        let files = Arc::new(files);
        for conn_id in &server.conns {
            if let Some(conn) = self.conns.get_mut(conn_id) {
                conn.set_static_files(Arc::clone(&files));
            }
        }
        server.static_files = Some(files);
        mounted.map(|()| true)
    }

    fn accept(&mut self, table: &mut SocketTable, next_id: &mut dyn FnMut() -> u64, id: u64) {
        loop {
            let Some(server) = self.servers.get_mut(&id) else {
                return;
            };
            let (stream, peer) = match server.listener.accept() {
                Ok(accepted) => accepted,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let tls = server.options.tls.is_some();
            if !self.make_room(table, id) {
                self.refused.push((stream, tls));
                continue;
            }
            let Some(server) = self.servers.get_mut(&id) else {
                return;
            };
            let transport: Box<dyn Transport> = match &server.options.tls {
                None => Box::new(PlainTcp::new(stream)),
                Some(config) => match TlsTransport::server(stream, Arc::clone(config)) {
                    Ok(transport) => Box::new(transport),
                    Err(_) => continue,
                },
            };
            let conn_id = next_id();
            let mut conn = HttpConn::new(
                conn_id,
                id,
                transport,
                Arc::from(peer.to_string()),
                server.options.limits,
                server.options.websocket.clone(),
                server.static_files.clone(),
            );
            let _ = conn.transport.socket().set_nodelay(true);
            if table
                .register(
                    conn.transport.socket(),
                    conn_id,
                    Interest::READABLE | Interest::WRITABLE,
                    Owner::HttpConn,
                )
                .is_err()
            {
                continue;
            }
            conn.cap_slot = Some(CapSlot::take(&server.count));
            server.conns.insert(conn_id);
            self.conns.insert(conn_id, conn);
        }
    }

    /// Room for one more connection on server `id`: if the server is at its cap its idlest
    /// keep-alive connection is closed, and if the process is at its total cap the idlest one
    /// of any server; false if nothing idle could be closed.
    fn make_room(&mut self, table: &mut SocketTable, id: u64) -> bool {
        let Some(server) = self.servers.get_mut(&id) else {
            return false;
        };
        if server.count.open() >= server.options.max_connections
            && !evict_idlest(table, server, &mut self.conns)
        {
            return false;
        }
        !caps::total_full() || self.evict_idlest_anywhere(table)
    }

    /// Closes the keep-alive connection idle the longest, of any server (room under the total
    /// cap); false if no connection is idle.
    pub fn evict_idlest_anywhere(&mut self, table: &mut SocketTable) -> bool {
        let idlest = self
            .conns
            .iter()
            .filter_map(|(id, conn)| Some((conn.idle_since()?, *id)))
            .min();
        let Some((_, id)) = idlest else {
            return false;
        };
        if let Some(mut conn) = self.conns.remove(&id) {
            if let Some(server) = self.servers.get_mut(&conn.server) {
                server.conns.remove(&id);
            }
            self.draining.remove(&id);
            conn.close();
            table.deregister(conn.transport.socket(), id);
        }
        true
    }

    /// Clients refused past a cap since the last call, to be answered 503.
    pub fn take_refused(&mut self) -> Vec<(mio::net::TcpStream, bool)> {
        std::mem::take(&mut self.refused)
    }

    /// Ids of the listening servers (for a graceful shutdown).
    pub fn server_ids(&self) -> Vec<u64> {
        self.servers.keys().copied().collect()
    }

    /// True while a stopped server's connection still owes a response.
    pub fn is_draining(&self) -> bool {
        !self.draining.is_empty()
    }

    /// Runs `act` on connection `conn` (if it is still there), then drops it if that closed
    /// or upgraded it: the one path every answer from a handler takes.
    fn on_conn<R>(
        &mut self,
        table: &mut SocketTable,
        conn: u64,
        events: &mut EventQueue,
        act: impl FnOnce(&mut HttpConn, &mut EventQueue) -> R,
    ) -> Option<R> {
        let connection = self.conns.get_mut(&conn)?;
        let result = act(connection, events);
        self.sweep_closed(table, conn, events);
        Some(result)
    }

    /// Delivers the response to request `seq` of connection `conn`; false if it is gone.
    pub fn respond(
        &mut self,
        table: &mut SocketTable,
        conn: u64,
        seq: u64,
        response: &Response,
        events: &mut EventQueue,
    ) -> bool {
        self.on_conn(table, conn, events, |c, events| {
            c.respond(seq, response, events)
        })
        .unwrap_or(false)
    }

    /// Starts a streamed response to request `seq` of `conn`; false if it is gone or owed
    /// nothing.
    pub fn start_stream(
        &mut self,
        table: &mut SocketTable,
        conn: u64,
        seq: u64,
        response: &Response,
        events: &mut EventQueue,
    ) -> bool {
        self.on_conn(table, conn, events, |c, events| {
            c.start_stream(seq, response, events)
        })
        .unwrap_or(false)
    }

    /// Queues a piece of a stream (`last`: and ends it); the bytes still unsent, or `None`
    /// if the connection is gone or the stream is not open.
    pub fn write_stream(
        &mut self,
        table: &mut SocketTable,
        conn: u64,
        seq: u64,
        data: &[u8],
        last: bool,
        events: &mut EventQueue,
    ) -> Option<usize> {
        self.on_conn(table, conn, events, |c, events| {
            c.write_stream(seq, data, last, events).ok()
        })
        .flatten()
        .filter(|_| self.conns.contains_key(&conn))
    }

    /// Closes connection `conn` at once; false if it is gone.
    pub fn close_conn(
        &mut self,
        table: &mut SocketTable,
        conn: u64,
        events: &mut EventQueue,
    ) -> bool {
        self.on_conn(table, conn, events, |c, _| c.close())
            .is_some()
    }

    /// A stream's writer waits as operation `op` for `conn`'s unsent bytes to drain (or the
    /// connection to close); false if there is nothing to wait for.
    pub fn wait_for_drain(&mut self, conn: u64, op: u64) -> bool {
        self.conns
            .get_mut(&conn)
            .is_some_and(|connection| connection.wait_for_drain(op))
    }

    /// Applies the read and idle timeouts of server `id`.
    pub fn check_timeouts(&mut self, table: &mut SocketTable, id: u64, events: &mut EventQueue) {
        let Some(server) = self.servers.get(&id) else {
            return;
        };
        let now = Instant::now();
        let (read_timeout, idle_timeout) =
            (server.options.read_timeout, server.options.idle_timeout);
        let ids: Vec<u64> = server.conns.iter().copied().collect();
        for conn_id in ids {
            if let Some(conn) = self.conns.get_mut(&conn_id) {
                if conn
                    .request_started
                    .is_some_and(|started| now.duration_since(started) > read_timeout)
                {
                    conn.time_out_request();
                } else if conn.is_idle() && now.duration_since(conn.last_activity) > idle_timeout {
                    conn.close();
                }
            }
            self.sweep_closed(table, conn_id, events);
        }
        buffers::trim_if_pending();
    }

    /// Connections whose WebSocket upgrade was answered, taken out of the HTTP server.
    pub fn take_upgrades(&mut self) -> Vec<Upgraded> {
        std::mem::take(&mut self.upgrades)
    }

    fn sweep_closed(&mut self, table: &mut SocketTable, id: u64, events: &mut EventQueue) {
        if self.conns.get(&id).is_some_and(HttpConn::upgrade_ready)
            && let Some(conn) = self.conns.remove(&id)
        {
            if let Some(server) = self.servers.get_mut(&conn.server) {
                server.conns.remove(&id);
            }
            self.draining.remove(&id);
            match conn.into_upgrade() {
                Some(upgraded) => {
                    table.hand_over(id, Owner::WebSocket);
                    self.upgrades.push(upgraded);
                }
                None => table.forget(id),
            }
            return;
        }
        if self
            .conns
            .get(&id)
            .is_some_and(|conn| conn.state == State::Closed)
            && let Some(mut conn) = self.conns.remove(&id)
        {
            table.deregister(conn.transport.socket(), id);
            if let Some(server) = self.servers.get_mut(&conn.server) {
                server.conns.remove(&id);
            }
            self.draining.remove(&id);
            // A stream's writer and its handler learn that the client is gone.
            let (waiter, streams) = conn.take_orphans();
            if let Some(op) = waiter {
                events.push_back(NetEvent::failure(op, "closed"));
            }
            for seq in streams {
                events.push_back(NetEvent::Emit {
                    owner: conn.server,
                    event: "stream_closed",
                    args: vec![Val::Int(id as i64), Val::Int(seq as i64)],
                });
            }
        }
    }
}
