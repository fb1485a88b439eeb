//! WebSocket clients, servers and connections in the socket table: connects (name lookups
//! on the worker pool, TLS), sends, closes with their deadlines, servers started as HTTP
//! servers whose upgrades become WebSocket connections, broadcast, and the keep-alive sweep
//! (idle timeout, automatic ping: `src/ws/keepalive.rs`) of a server's clients.

use super::lookups::Waiting;
use super::*;
use crate::http::server::WsRoutes;
use crate::net::reads::DEFAULT_MAX_INPUT;
use crate::ws::client::{self, PendingConnect};
use crate::ws::error::SendError;
use crate::ws::io::TransportIo;
use crate::ws::keepalive::{Check, Keepalive};
use crate::ws::{self, Followup, WsConn, WsServer};

/// Options of `websocket_connect`.
#[derive(Debug, Clone, Default)]
pub struct WsConnectOptions {
    pub verify: bool,
    pub ca_file: Option<String>,
    /// Seconds the connect and handshake may take.
    pub timeout: Option<f64>,
    pub sizes: WsSizes,
}

/// Size limits of WebSocket connections (`None`: the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct WsSizes {
    /// Largest message accepted.
    pub max_message: Option<usize>,
    /// Unconsumed input at which reading pauses.
    pub max_input: Option<usize>,
}

/// The WebSocket side of `websocket_server_start`'s options (the rest is the HTTP server's).
#[derive(Debug, Clone, Copy, Default)]
pub struct WsServerOptions {
    pub sizes: WsSizes,
    pub keepalive: Keepalive,
}

impl Net {
    /// A new client id (nothing is opened until `ws_connect`).
    pub fn ws_client_create(&mut self, ctx: &mut NetContext) -> u64 {
        let id = ctx.ids.next_id();
        self.ws.clients.insert(id);
        id
    }

    /// Starts connecting client `id` to `url`; failures arrive as its `error` event.
    pub fn ws_connect(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        url: &str,
        headers: &[(String, String)],
        options: WsConnectOptions,
    ) -> Result<(), SocketError> {
        if !self.ws.clients.contains(&id) {
            return Err(SocketError::Unknown {
                what: "WebSocket client",
                id,
            });
        }
        if self.ws.conns.contains_key(&id) || self.is_looking_up(id) {
            return Err(SocketError::AlreadyConnecting);
        }
        let config = ws::config(options.sizes.max_message.unwrap_or(ws::DEFAULT_MAX_MESSAGE));
        let target = match client::prepare(url, headers) {
            Ok(target) => target,
            Err(message) => {
                self.ws_error(id, message.to_string());
                return Ok(());
            }
        };
        let tls = target.url.tls.then(|| TlsOptions {
            verify: options.verify,
            server_name: None,
            ca_file: options.ca_file.clone(),
        });
        let timeout = options.timeout.unwrap_or(CONNECT_TIMEOUT);
        let timer = self.arm(ctx, timeout, Deadline::WebSocket(id));
        let pending = PendingConnect {
            target,
            tls,
            config,
            max_input: options.sizes.max_input.unwrap_or(DEFAULT_MAX_INPUT),
        };
        let (host, port) = (pending.target.url.host.clone(), pending.target.url.port);
        let waiting = Waiting::WebSocket {
            pending: Box::new(pending),
            timer,
        };
        self.dial(ctx, id, &host, port, waiting);
        Ok(())
    }

    /// Opens client `id`'s connection to `address` (the dial path found it).
    pub(super) fn ws_open(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        address: SocketAddr,
        pending: PendingConnect,
        timer: u64,
    ) {
        let fail = |net: &mut Net, ctx: &mut NetContext, message: String| {
            net.disarm(ctx, Some(timer));
            net.ws_error(id, message);
        };
        let host = &pending.target.url.host;
        let transport = match connect::open(address, host, pending.tls.as_ref()) {
            Ok(transport) => transport,
            Err(error) => return fail(self, ctx, error.to_string()),
        };
        let mut conn = WsConn::client(
            id,
            TransportIo::new(transport),
            pending.target.request,
            pending.config,
        );
        conn.max_input = pending.max_input;
        conn.deadline = Some(timer);
        let registered = conn.socket().map(|socket| {
            self.table.register(
                socket,
                id,
                Interest::READABLE | Interest::WRITABLE,
                Owner::WebSocket,
            )
        });
        if let Some(Err(error)) = registered {
            return fail(self, ctx, error.to_string());
        }
        self.ws.conns.insert(id, conn);
    }

    pub(super) fn ws_error(&mut self, id: u64, message: String) {
        self.events.push_back(NetEvent::Emit {
            owner: id,
            event: "error",
            args: vec![Val::Text(message)],
        });
    }

    /// Forgets client `id` if it has no connection in progress or open (closed or draining
    /// ones finish on their own); true if it was forgotten. Its id is then unknown.
    pub fn ws_client_release(&mut self, id: u64) -> bool {
        let busy =
            self.is_looking_up(id) || self.ws.conns.get(&id).is_some_and(|conn| !conn.is_over());
        !busy && self.ws.clients.remove(&id)
    }

    /// Sends a text (or binary) message on connection `id` (a client, or a server's client).
    pub fn ws_send(&mut self, id: u64, data: &[u8], binary: bool) -> Result<(), SendError> {
        let Some(conn) = self.ws.conns.get_mut(&id) else {
            return Err(if self.ws.clients.contains(&id) {
                SendError::NotConnected
            } else {
                self.missing(id, "WebSocket").into()
            });
        };
        conn.send(data, binary)
    }

    /// True if connection `id` is open.
    pub fn ws_is_open(&self, id: u64) -> bool {
        self.ws.conns.get(&id).is_some_and(WsConn::is_open)
    }

    /// Starts closing connection `id` with `code` and `reason`; false if it is not open.
    pub fn ws_close(&mut self, ctx: &mut NetContext, id: u64, code: u16, reason: &str) -> bool {
        if let Some(Waiting::WebSocket { timer, .. }) = self.cancel_lookup(id) {
            self.disarm(ctx, Some(timer));
            return true;
        }
        let Some(conn) = self.ws.conns.get_mut(&id) else {
            return false;
        };
        let followup = conn.close(code, reason, &mut self.events);
        self.ws_follow(ctx, id, followup);
        self.ws_sweep(ctx, id);
        true
    }

    /// Readiness of connection `id`; false if it is not a WebSocket connection.
    pub(super) fn ws_on_ready(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        readable: bool,
        writable: bool,
        hangup: bool,
    ) -> bool {
        let Some(conn) = self.ws.conns.get_mut(&id) else {
            return false;
        };
        let was_open = conn.is_open();
        if self.events.is_empty() {
            conn.events_consumed();
        }
        let followup = conn.on_ready(readable, writable, hangup, &mut self.events);
        if !was_open && conn.is_open() {
            // Connected: the connect deadline is over.
            let timer = conn.deadline.take();
            self.disarm(ctx, timer);
        }
        self.ws_follow(ctx, id, followup);
        self.ws_sweep(ctx, id);
        true
    }

    /// The resume timer of WebSocket connection `id` fired: read on.
    pub(super) fn ws_resume(&mut self, ctx: &mut NetContext, id: u64) {
        let drained = self.events.is_empty();
        let Some(conn) = self.ws.conns.get_mut(&id) else {
            return;
        };
        conn.resume_timer = None;
        if drained {
            conn.events_consumed();
        }
        let followup = conn.resume(&mut self.events);
        self.ws_follow(ctx, id, followup);
        self.ws_sweep(ctx, id);
    }

    /// The deadline of connection `id` passed.
    pub(super) fn ws_timed_out(&mut self, ctx: &mut NetContext, id: u64) {
        if self.cancel_lookup(id).is_some() {
            self.ws_error(id, "timeout".into());
            return;
        }
        if let Some(conn) = self.ws.conns.get_mut(&id) {
            conn.time_out(&mut self.events);
        }
        self.ws_sweep(ctx, id);
    }

    fn ws_follow(&mut self, ctx: &mut NetContext, id: u64, followup: Followup) {
        let resume = self
            .ws
            .conns
            .get(&id)
            .is_some_and(|conn| conn.wants_resume() && conn.resume_timer.is_none());
        if resume {
            let timer = self.arm(ctx, 0.0, Deadline::Resume(id));
            if let Some(conn) = self.ws.conns.get_mut(&id) {
                conn.resume_timer = Some(timer);
            }
        }
        if let Followup::Deadline(seconds) = followup {
            let old = self
                .ws
                .conns
                .get_mut(&id)
                .and_then(|conn| conn.deadline.take());
            self.disarm(ctx, old);
            let timer = self.arm(ctx, seconds, Deadline::WebSocket(id));
            if let Some(conn) = self.ws.conns.get_mut(&id) {
                conn.deadline = Some(timer);
            }
        }
    }

    /// Drops connection `id` once it is closed: deregistered, fd closed, deadline cancelled.
    fn ws_sweep(&mut self, ctx: &mut NetContext, id: u64) {
        if !self.ws.conns.get(&id).is_some_and(WsConn::is_finished) {
            return;
        }
        if let Some(mut conn) = self.ws.conns.remove(&id) {
            match conn.socket() {
                Some(socket) => self.table.deregister(socket, id),
                // Its transport is gone already (and with it the fd's registration).
                None => self.table.forget(id),
            }
            let timer = conn.deadline.take();
            self.disarm(ctx, timer);
            let timer = conn.resume_timer.take();
            self.disarm(ctx, timer);
            if let ws::Side::Server { server } = conn.side
                && let Some(server) = self.ws.servers.get_mut(&server)
            {
                server.clients.remove(&id);
            }
            self.remember_closed(id);
        }
    }

    // ---- servers --------------------------------------------------------------------------

    /// A new WebSocket server id (nothing listens until `ws_server_start`).
    pub fn ws_server_create(&mut self, ctx: &mut NetContext) -> u64 {
        let id = ctx.ids.next_id();
        self.ws.servers.insert(
            id,
            WsServer {
                max_message: ws::DEFAULT_MAX_MESSAGE,
                max_input: DEFAULT_MAX_INPUT,
                ..WsServer::default()
            },
        );
        id
    }

    /// Starts server `id` on `host:port` (an HTTP server answering only upgrades); returns the
    /// bound address.
    pub fn ws_server_start(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        host: &str,
        port: u16,
        mut options: ServerOptions,
        ws_options: WsServerOptions,
    ) -> Result<SocketAddr, SocketError> {
        let WsServerOptions { sizes, keepalive } = ws_options;
        let Some(server) = self.ws.servers.get_mut(&id) else {
            return Err(self.missing(id, "WebSocket server"));
        };
        if server.http.is_some() {
            return Err(SocketError::AlreadyStarted);
        }
        server.max_message = sizes.max_message.unwrap_or(server.max_message);
        server.max_input = sizes.max_input.unwrap_or(server.max_input);
        server.keepalive = keepalive;
        options.websocket = Some(Arc::new(WsRoutes {
            routes: vec![("*".into(), id)],
            only: true,
        }));
        let (http, address) = self.http_start(ctx, host, port, options)?;
        if let Some(server) = self.ws.servers.get_mut(&id) {
            server.http = Some(http);
        }
        Ok(address)
    }

    /// Stops server `id`: no new connections, and its clients are sent a 1001 close.
    pub fn ws_server_close(&mut self, ctx: &mut NetContext, id: u64) -> bool {
        let Some(server) = self.ws.servers.get_mut(&id) else {
            return false;
        };
        let http = server.http.take();
        let sweep = server.sweep_timer.take();
        let clients: Vec<u64> = server.clients.iter().copied().collect();
        if let Some(sweep) = sweep {
            ctx.timers.cancel(sweep, TimerAction::Net);
            self.deadlines.remove(&sweep);
        }
        if let Some(http) = http {
            self.http_stop(ctx, http);
        }
        for client in clients {
            self.ws_close(ctx, client, 1001, "server shutting down");
        }
        true
    }

    /// Sends a message to every open client of server `id`; returns how many got it.
    pub fn ws_broadcast(
        &mut self,
        id: u64,
        data: &[u8],
        binary: bool,
    ) -> Result<usize, SocketError> {
        let Some(server) = self.ws.servers.get(&id) else {
            return Err(self.missing(id, "WebSocket server"));
        };
        let clients: Vec<u64> = server.clients.iter().copied().collect();
        let mut sent = 0;
        for client in clients {
            if let Some(conn) = self.ws.conns.get_mut(&client)
                && conn.send(data, binary).is_ok()
            {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Turns the upgrades the HTTP servers answered with 101 into WebSocket connections.
    pub(super) fn ws_take_upgrades(&mut self, ctx: &mut NetContext) {
        for upgrade in self.http.take_upgrades() {
            let id = upgrade.conn;
            let Some(server) = self.ws.servers.get_mut(&upgrade.ws_server) else {
                // Its server closed meanwhile: the connection closes as it is dropped.
                self.table.forget(id);
                continue;
            };
            server.clients.insert(id);
            if server.sweep_timer.is_none() {
                let sweep = ctx.ids.next_id();
                let period = server.keepalive.sweep_period();
                server.sweep_timer = Some(sweep);
                ctx.timers
                    .add(sweep, period * 1000.0, true, TimerAction::Net);
                ctx.timers.set_referenced(sweep, false);
                self.deadlines
                    .insert(sweep, Deadline::WsSweep(upgrade.ws_server));
            }
            let Some(server) = self.ws.servers.get(&upgrade.ws_server) else {
                self.table.forget(id);
                continue;
            };
            let config = ws::config(server.max_message);
            let mut io = TransportIo::new(upgrade.transport);
            io.unread(upgrade.leftover);
            let mut conn = WsConn::server(id, upgrade.ws_server, io, config);
            conn.max_input = server.max_input;
            conn.cap_slot = upgrade.cap_slot;
            self.ws.conns.insert(id, conn);
            self.events.push_back(NetEvent::Emit {
                owner: upgrade.ws_server,
                event: "client_connected",
                args: vec![Val::Int(id as i64), upgrade.request],
            });
            // Frames may have arrived with the upgrade request.
            self.ws_on_ready(ctx, id, true, true, false);
        }
    }

    /// The keep-alive sweep of server `id`: pings its quiet clients, closes the idle ones with
    /// 1001 and drops those that left a ping unanswered.
    pub(super) fn ws_keepalive(&mut self, ctx: &mut NetContext, id: u64) {
        let Some(server) = self.ws.servers.get(&id) else {
            return;
        };
        let keepalive = server.keepalive;
        let clients: Vec<u64> = server.clients.iter().copied().collect();
        let now = std::time::Instant::now();
        for client in clients {
            let Some(conn) = self.ws.conns.get_mut(&client) else {
                continue;
            };
            if !conn.is_open() {
                continue; // closing: its own deadline ends it
            }
            match keepalive.check(&conn.liveness, now) {
                Check::Fine => continue,
                Check::Ping => conn.ping(now),
                Check::NoPong => conn.abandon("ping timeout", &mut self.events),
                Check::Idle => {
                    let followup = conn.close(1001, "idle timeout", &mut self.events);
                    self.ws_follow(ctx, client, followup);
                }
            }
            self.ws_sweep(ctx, client);
        }
    }
}
