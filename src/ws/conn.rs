//! One WebSocket connection, client or server side, driven by readiness events: the client's
//! TCP connect and opening handshake (tungstenite's, resumed after each `WouldBlock`), then
//! messages read until `WouldBlock`, writes queued in tungstenite and flushed on writable
//! events, and the closing handshake. What happens becomes [`NetEvent`]s for the owner's
//! listeners: a client emits to itself, a server-side connection to its server.

use std::io;
use std::time::Instant;

use tungstenite::error::{Error as WsError, ProtocolError};
use tungstenite::handshake::client::{ClientHandshake, Request};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use super::error::{SendError, describe};
use super::event::{self, Side};
use super::io::TransportIo;
use super::keepalive::Liveness;
use crate::event::EventQueue;
use crate::net::describe_io_error;
use crate::net::transport::connect_finished;

/// Close code reported when the connection ended without a closing handshake.
pub const ABNORMAL_CLOSE: u16 = 1006;
/// Close code reported when the peer's close frame carried none.
const NO_STATUS: u16 = 1005;

enum Phase {
    /// TCP connect in progress (client).
    Connecting {
        io: Box<TransportIo>,
        request: Box<Request>,
    },
    /// The client's opening handshake, waiting for the socket.
    Handshaking(Box<MidHandshake<ClientHandshake<TransportIo>>>),
    /// Messages flow; `closing` once a close frame was sent or received.
    Open(Box<WebSocket<TransportIo>>),
    /// Failed: the close frame and FIN are on their way and input is read and dropped until
    /// the peer closes too (closing a socket with unread input would reset it and could lose
    /// the close frame).
    Draining(Box<WebSocket<TransportIo>>),
    Closed,
}

/// What a call to the connection asks the socket table to do next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Followup {
    Nothing,
    /// Arm (or re-arm) the connection's deadline: the close handshake or the drain must end
    /// within this many seconds.
    Deadline(f64),
}

/// Seconds a closing handshake may take before the socket is closed anyway.
const CLOSE_TIMEOUT: f64 = 5.0;
/// Seconds input is drained after a failure.
const DRAIN_TIMEOUT: f64 = 2.0;
/// Message bytes one readiness event may take from one connection before the loop moves on
/// (the rest is read on a later turn), so a flooding peer cannot starve the loop.
const TURN_BUDGET: usize = 256 * 1024;
/// Messages one readiness event may take from one connection (small messages cost per event).
const TURN_MESSAGES: usize = 1024;

/// A WebSocket connection.
pub struct WsConn {
    pub id: u64,
    pub side: Side,
    phase: Phase,
    config: WebSocketConfig,
    /// Counts towards keeping the process alive.
    pub referenced: bool,
    /// `connected`/`client_connected` was reported, so a disconnect is owed.
    announced: bool,
    /// The close code and reason to report (received, or ours after a failure).
    close_info: Option<(u16, String)>,
    /// A close frame was received (or sent by us after a failure).
    got_close: bool,
    /// The timer bounding the connect, the close handshake or the drain.
    pub deadline: Option<u64>,
    /// Message bytes handed to Lua in events that may not have run yet; reading pauses at
    /// `max_input`.
    in_flight: usize,
    /// Bound of unconsumed input (see [`crate::net::reads::InputLimits::input`]).
    pub max_input: usize,
    /// Reading stopped with data left: [`WsConn::resume`] must be called on a later turn.
    more: bool,
    /// The timer that resumes reading, while one is armed.
    pub resume_timer: Option<u64>,
    /// An upgraded connection's place in the connection caps (`net/caps.rs`).
    pub cap_slot: Option<crate::net::caps::CapSlot>,
    /// When the peer was last heard from and the ping awaiting its pong (`keepalive.rs`).
    pub liveness: Liveness,
}

impl WsConn {
    /// A client connection whose TCP connect (plain or TLS transport) was started.
    pub fn client(id: u64, io: TransportIo, request: Request, config: WebSocketConfig) -> WsConn {
        WsConn::with_phase(
            id,
            Side::Client,
            Phase::Connecting {
                io: Box::new(io),
                request: Box::new(request),
            },
            config,
        )
    }

    /// The server side of a connection whose upgrade was answered with 101; it is open.
    pub fn server(id: u64, server: u64, io: TransportIo, config: WebSocketConfig) -> WsConn {
        let socket = WebSocket::from_raw_socket(io, Role::Server, Some(config));
        let mut conn = WsConn::with_phase(
            id,
            Side::Server { server },
            Phase::Open(Box::new(socket)),
            config,
        );
        conn.announced = true;
        conn
    }

    fn with_phase(id: u64, side: Side, phase: Phase, config: WebSocketConfig) -> WsConn {
        WsConn {
            id,
            side,
            phase,
            config,
            referenced: true,
            announced: false,
            close_info: None,
            got_close: false,
            deadline: None,
            in_flight: 0,
            max_input: crate::net::reads::DEFAULT_MAX_INPUT,
            more: false,
            resume_timer: None,
            cap_slot: None,
            liveness: Liveness::new(Instant::now()),
        }
    }

    /// True while messages can be sent.
    pub fn is_open(&self) -> bool {
        matches!(&self.phase, Phase::Open(socket) if socket.can_write())
    }

    /// True once the socket can be dropped.
    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// True once the connection has nothing more to tell Lua (closed, or only draining).
    pub fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Closed | Phase::Draining(_))
    }

    /// Counts towards keeping the process alive.
    pub fn is_alive(&self) -> bool {
        self.referenced && !matches!(self.phase, Phase::Closed | Phase::Draining(_))
    }

    /// The transport's socket, for the poller; `None` once closed.
    pub fn socket(&mut self) -> Option<&mut mio::net::TcpStream> {
        let io = match &mut self.phase {
            Phase::Connecting { io, .. } => io,
            Phase::Handshaking(mid) => mid.get_mut().get_mut(),
            Phase::Open(socket) | Phase::Draining(socket) => socket.get_mut(),
            Phase::Closed => return None,
        };
        Some(io.transport.socket())
    }

    fn io(&mut self) -> Option<&mut TransportIo> {
        match &mut self.phase {
            Phase::Connecting { io, .. } => Some(io),
            Phase::Handshaking(mid) => Some(mid.get_mut().get_mut()),
            Phase::Open(socket) | Phase::Draining(socket) => Some(socket.get_mut()),
            Phase::Closed => None,
        }
    }

    /// Handles readiness.
    pub fn on_ready(
        &mut self,
        readable: bool,
        writable: bool,
        hangup: bool,
        events: &mut EventQueue,
    ) -> Followup {
        if let Some(io) = self.io() {
            if readable || hangup {
                io.readable = true;
            }
            if hangup {
                io.transport.note_hangup();
            }
        }
        match std::mem::replace(&mut self.phase, Phase::Closed) {
            Phase::Connecting { mut io, request } => {
                match connect_finished(io.transport.socket()) {
                    Ok(false) => {
                        self.phase = Phase::Connecting { io, request };
                        Followup::Nothing
                    }
                    Ok(true) => {
                        let _ = io.transport.socket().set_nodelay(true);
                        match ClientHandshake::start(*io, *request, Some(self.config)) {
                            Ok(mid) => self.handshake_step(mid.handshake(), events),
                            Err(error) => {
                                self.fail_connect(&describe(&error), events);
                                Followup::Nothing
                            }
                        }
                    }
                    Err(error) => {
                        self.fail_connect(&describe_io_error(&error), events);
                        Followup::Nothing
                    }
                }
            }
            Phase::Handshaking(mid) => self.handshake_step(mid.handshake(), events),
            Phase::Open(socket) => {
                self.phase = Phase::Open(socket);
                self.pump(writable, events)
            }
            Phase::Draining(mut socket) => {
                if writable && socket.flush().is_ok() {
                    socket.get_mut().transport.shutdown();
                }
                let io = socket.get_mut();
                let mut scratch = Vec::new();
                loop {
                    scratch.clear();
                    match io.transport.read_into(&mut scratch, 64 * 1024) {
                        Ok(status) if status.eof => break,
                        Ok(status) if status.bytes == 64 * 1024 => continue,
                        Ok(_) => {
                            self.phase = Phase::Draining(socket);
                            return Followup::Nothing;
                        }
                        Err(_) => break,
                    }
                }
                Followup::Nothing
            }
            Phase::Closed => Followup::Nothing,
        }
    }

    fn handshake_step(
        &mut self,
        result: Result<
            (
                WebSocket<TransportIo>,
                tungstenite::handshake::client::Response,
            ),
            HandshakeError<ClientHandshake<TransportIo>>,
        >,
        events: &mut EventQueue,
    ) -> Followup {
        match result {
            Ok((socket, _response)) => {
                self.phase = Phase::Open(Box::new(socket));
                self.announced = true;
                events.push_back(event::connected(self.id));
                // Messages may have come with the handshake's answer.
                self.pump(true, events)
            }
            Err(HandshakeError::Interrupted(mid)) => {
                self.phase = Phase::Handshaking(Box::new(mid));
                Followup::Nothing
            }
            Err(HandshakeError::Failure(error)) => {
                self.fail_connect(&describe(&error), events);
                Followup::Nothing
            }
        }
    }

    /// The runtime has run every event queued so far: the messages handed over are consumed.
    pub fn events_consumed(&mut self) {
        self.in_flight = 0;
    }

    /// True if reading stopped with data left and must be resumed on a later turn.
    pub fn wants_resume(&self) -> bool {
        self.more && matches!(self.phase, Phase::Open(_))
    }

    /// Reads on (a later turn after [`WsConn::wants_resume`]).
    pub fn resume(&mut self, events: &mut EventQueue) -> Followup {
        self.more = false;
        self.pump(false, events)
    }

    /// Reads messages until the socket has nothing more, the turn budget is spent or the
    /// unconsumed input or unsent output is at its bound; sends what is queued.
    fn pump(&mut self, writable: bool, events: &mut EventQueue) -> Followup {
        self.more = false;
        let Phase::Open(socket) = &mut self.phase else {
            return Followup::Nothing;
        };
        if writable {
            match socket.flush() {
                Ok(()) => {}
                Err(WsError::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return self.on_error(error, events),
            }
        }
        let got_close_before = self.got_close;
        let (mut budget, mut messages) = (TURN_BUDGET, TURN_MESSAGES);
        let mut heard = false;
        loop {
            if socket.get_ref().write_blocked && !self.got_close {
                // Output waits for the peer: a writable event resumes reading.
                break;
            }
            if budget == 0 || messages == 0 || self.in_flight >= self.max_input {
                self.more = true;
                break;
            }
            let message = socket.read();
            heard |= message.is_ok();
            if let Ok(Message::Text(_) | Message::Binary(_)) = &message {
                let size = match &message {
                    Ok(Message::Text(text)) => text.len(),
                    Ok(Message::Binary(bytes)) => bytes.len(),
                    _ => 0,
                };
                budget = budget.saturating_sub(size.max(1));
                messages -= 1;
                self.in_flight += size;
            }
            match message {
                Ok(Message::Text(text)) => {
                    events.push_back(event::message(
                        self.side,
                        self.id,
                        Vec::from(text.as_bytes()),
                        false,
                    ));
                }
                Ok(Message::Binary(bytes)) => {
                    events.push_back(event::message(
                        self.side,
                        self.id,
                        Vec::from(bytes.as_ref()),
                        true,
                    ));
                }
                Ok(Message::Close(frame)) => {
                    self.got_close = true;
                    if self.close_info.is_none() || !got_close_before {
                        self.close_info = Some(match frame {
                            Some(frame) => (u16::from(frame.code), frame.reason.to_string()),
                            None => (NO_STATUS, String::new()),
                        });
                    }
                }
                Ok(Message::Pong(_)) => self.liveness.ping_sent = None,
                Ok(_) => {} // ping (answered by tungstenite), raw frame
                Err(WsError::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => return self.on_error(error, events),
            }
        }
        if heard {
            self.liveness.last_received = Instant::now();
        }
        if self.got_close {
            // Our answer to the peer's close (or the end of our own) must reach the socket;
            // then the exchange is over and both sides may close.
            match socket.flush() {
                Ok(()) | Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {
                    self.finish(events);
                }
                Err(WsError::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => {
                    return Followup::Deadline(CLOSE_TIMEOUT);
                }
                Err(_) => self.finish(events),
            }
        }
        Followup::Nothing
    }

    /// Sends a message (text unless `binary`).
    pub fn send(&mut self, data: &[u8], binary: bool) -> Result<(), SendError> {
        let Phase::Open(socket) = &mut self.phase else {
            return Err(self.not_open());
        };
        if !socket.can_write() {
            return Err(SendError::Closing);
        }
        let message = if binary {
            Message::binary(data.to_vec())
        } else {
            match std::str::from_utf8(data) {
                Ok(text) => Message::text(text),
                Err(_) => return Err(SendError::NotUtf8),
            }
        };
        let result = socket.write(message).and_then(|()| socket.flush());
        match result {
            Ok(()) => Ok(()),
            Err(WsError::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(WsError::WriteBufferFull(_)) => Err(SendError::BufferFull),
            Err(WsError::Capacity(error)) => Err(SendError::TooBig(error)),
            Err(error) => Err(SendError::Failed(Box::new(error))),
        }
    }

    /// Sends a ping (the keep-alive sweep found the connection quiet); its pong clears
    /// `liveness.ping_sent`.
    pub fn ping(&mut self, now: Instant) {
        let Phase::Open(socket) = &mut self.phase else {
            return;
        };
        if !socket.can_write() {
            return;
        }
        self.liveness.ping_sent = Some(now);
        // A full output buffer (the peer stopped reading) makes the ping go unanswered, which
        // is what the ping timeout is for.
        let _ = socket
            .write(Message::Ping(Default::default()))
            .and_then(|()| socket.flush());
    }

    /// Drops a connection whose peer stopped answering (`reason`, e.g. "ping timeout"): a
    /// close frame 1011 is sent if it fits, the socket closes at once, and the disconnect is
    /// reported with 1006 and `reason` (no closing handshake took place).
    pub fn abandon(&mut self, reason: &str, events: &mut EventQueue) {
        if let Phase::Open(socket) = &mut self.phase {
            let frame = CloseFrame {
                code: CloseCode::from(1011),
                reason: reason.into(),
            };
            let _ = socket.close(Some(frame));
            let _ = socket.flush();
        }
        self.close_info = Some((ABNORMAL_CLOSE, reason.to_owned()));
        self.finish(events);
    }

    fn not_open(&self) -> SendError {
        match self.phase {
            Phase::Connecting { .. } | Phase::Handshaking(_) => SendError::NotConnectedYet,
            _ => SendError::NotConnected,
        }
    }

    /// Starts the closing handshake with `code` and `reason`; a connection still connecting is
    /// abandoned at once. Returns what the socket table should arm.
    pub fn close(&mut self, code: u16, reason: &str, events: &mut EventQueue) -> Followup {
        match &mut self.phase {
            Phase::Open(socket) if socket.can_write() => {
                self.close_info = Some((code, reason.to_owned()));
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: reason.into(),
                };
                match socket.close(Some(frame)) {
                    Ok(()) => {}
                    Err(WsError::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {
                        self.finish(events);
                        return Followup::Nothing;
                    }
                    Err(_) => {
                        self.finish(events);
                        return Followup::Nothing;
                    }
                }
                Followup::Deadline(CLOSE_TIMEOUT)
            }
            Phase::Open(_) => Followup::Nothing, // already closing
            Phase::Connecting { .. } | Phase::Handshaking(_) => {
                if let Some(io) = self.io() {
                    io.transport.shutdown();
                }
                self.phase = Phase::Closed;
                Followup::Nothing
            }
            Phase::Draining(_) | Phase::Closed => Followup::Nothing,
        }
    }

    /// The connection's deadline passed: the connect, the closing handshake or the drain took
    /// too long.
    pub fn time_out(&mut self, events: &mut EventQueue) {
        self.deadline = None;
        match self.phase {
            Phase::Connecting { .. } | Phase::Handshaking(_) => {
                if let Some(io) = self.io() {
                    io.transport.shutdown();
                }
                self.fail_connect("timeout", events);
            }
            Phase::Open(_) => {
                if self.close_info.is_none() {
                    self.close_info = Some((ABNORMAL_CLOSE, "close timeout".into()));
                }
                self.finish(events);
            }
            Phase::Draining(_) | Phase::Closed => self.phase = Phase::Closed,
        }
    }

    /// The closing handshake is over (or the connection broke): close the socket and report.
    fn finish(&mut self, events: &mut EventQueue) {
        if let Some(io) = self.io() {
            io.transport.shutdown();
        }
        self.phase = Phase::Closed;
        self.report_disconnect(events);
    }

    fn report_disconnect(&mut self, events: &mut EventQueue) {
        if !self.announced {
            return;
        }
        self.announced = false;
        let (code, reason) = self
            .close_info
            .take()
            .unwrap_or((ABNORMAL_CLOSE, String::new()));
        events.push_back(event::disconnected(self.side, self.id, code, reason));
    }

    /// A protocol, size or I/O error on an open connection.
    fn on_error(&mut self, error: WsError, events: &mut EventQueue) -> Followup {
        let (code, reason) = match &error {
            WsError::ConnectionClosed | WsError::AlreadyClosed => {
                self.finish(events);
                return Followup::Nothing;
            }
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                self.close_info = Some((
                    ABNORMAL_CLOSE,
                    "connection closed without a close frame".into(),
                ));
                self.finish(events);
                return Followup::Nothing;
            }
            WsError::Io(io_error) => {
                let quiet = matches!(
                    io_error.kind(),
                    io::ErrorKind::ConnectionReset
                        | io::ErrorKind::BrokenPipe
                        | io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::ConnectionAborted
                );
                if !quiet {
                    events.push_back(event::error(self.side, self.id, describe(&error)));
                }
                self.close_info = Some((ABNORMAL_CLOSE, describe_io_error(io_error)));
                self.finish(events);
                return Followup::Nothing;
            }
            WsError::Capacity(_) => (1009, "message too big"),
            WsError::Utf8(_) => (1007, "invalid UTF-8 in text message"),
            _ => (1002, "protocol error"),
        };
        events.push_back(event::error(self.side, self.id, describe(&error)));
        self.close_info = Some((code, reason.to_owned()));
        let Phase::Open(mut socket) = std::mem::replace(&mut self.phase, Phase::Closed) else {
            return Followup::Nothing;
        };
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        // The FIN follows the close frame once that is on the socket (here or in `on_ready`).
        if socket.close(Some(frame)).is_ok() {
            socket.get_mut().transport.shutdown();
        }
        self.phase = Phase::Draining(socket);
        self.report_disconnect(events);
        Followup::Deadline(DRAIN_TIMEOUT)
    }

    fn fail_connect(&mut self, message: &str, events: &mut EventQueue) {
        self.phase = Phase::Closed;
        events.push_back(event::error(self.side, self.id, message.to_owned()));
    }
}

impl crate::net::live_map::Alive for WsConn {
    fn is_alive(&self) -> bool {
        WsConn::is_alive(self)
    }
}
