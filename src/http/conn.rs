//! One HTTP/1.1 server connection: reads requests off the transport (keep-alive and pipelining,
//! `Content-Length` and chunked bodies, `Expect: 100-continue`), hands each complete request to
//! Lua as a `request` event with a sequence number (or answers it from a static-file mount), and
//! hands the responses to [`Outgoing`], which sends them strictly in request order as the
//! handlers (which may yield) finish. Bad requests are answered here (400, 413, 431, 501, 408)
//! and the connection closes after the answer.

use std::sync::Arc;
use std::time::Instant;

use super::buffers;
use super::framing::ChunkedDecoder;
use super::outgoing::{Outgoing, STREAM_HIGH_WATER, StreamError};
use super::request::{BodyFraming, Head, Limits, Request, RequestError, parse_head};
use super::response::{BodyLength, Response};
use super::static_files::{Served, StaticFiles};
use super::upgrade::{self, Decision, Upgraded, WsRoutes};
use crate::event::{EventQueue, NetEvent, Val};
use crate::net::transport::Transport;

/// Requests read ahead of their responses before reading pauses.
const MAX_PIPELINE: usize = 32;
/// Bytes read per pass.
const READ_CHUNK: usize = 64 * 1024;
/// Response bytes queued before reading pauses.
const OUTPUT_HIGH_WATER: usize = 1024 * 1024;

enum Parse {
    Head,
    Body {
        head: Head,
        body: Vec<u8>,
        decoder: Option<ChunkedDecoder>,
    },
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// TLS handshake in progress.
    Handshaking,
    Open,
    Closed,
}

/// An HTTP server connection.
pub struct HttpConn {
    pub id: u64,
    pub server: u64,
    pub transport: Box<dyn Transport>,
    pub state: State,
    pub peer: Arc<str>,
    limits: Limits,
    input: Vec<u8>,
    parse: Parse,
    outgoing: Outgoing,
    /// More requests may be read (false after EOF, an error, or `Connection: close`).
    reading: bool,
    /// Close once every queued response is sent.
    close_when_done: bool,
    /// Reading stopped with data possibly left in the socket (pipeline or send queue full).
    paused: bool,
    /// When the request being read started arriving (for the read timeout).
    pub request_started: Option<Instant>,
    /// Last time anything happened (for the idle timeout).
    pub last_activity: Instant,
    /// The server's WebSocket routes, if it has any.
    websocket: Option<Arc<WsRoutes>>,
    /// An upgrade answered (or being answered) with 101: WebSocket server and request info.
    upgrade: Option<(u64, Val)>,
    /// The server's static-file mounts, if it has any.
    static_files: Option<Arc<StaticFiles>>,
    /// A stream's writer waits (operation id) for the unsent bytes to drop.
    drain_waiter: Option<u64>,
    /// Its place in the connection caps (`net/caps.rs`); moves along with an upgrade.
    pub cap_slot: Option<crate::net::caps::CapSlot>,
}

impl HttpConn {
    /// A connection accepted by `server`.
    pub fn new(
        id: u64,
        server: u64,
        transport: Box<dyn Transport>,
        peer: Arc<str>,
        limits: Limits,
        websocket: Option<Arc<WsRoutes>>,
        static_files: Option<Arc<StaticFiles>>,
    ) -> HttpConn {
        let state = if transport.is_established() {
            State::Open
        } else {
            State::Handshaking
        };
        HttpConn {
            id,
            server,
            transport,
            state,
            peer,
            limits,
            input: Vec::new(),
            parse: Parse::Head,
            outgoing: Outgoing::default(),
            reading: true,
            close_when_done: false,
            paused: false,
            request_started: None,
            last_activity: Instant::now(),
            websocket,
            upgrade: None,
            static_files,
            drain_waiter: None,
            cap_slot: None,
        }
    }

    /// The server added a static-file mount: connections see the new set.
    pub fn set_static_files(&mut self, static_files: Arc<StaticFiles>) {
        self.static_files = Some(static_files);
    }

    /// True once an upgrade's 101 is sent and nothing else is owed: the connection can move
    /// to its WebSocket server ([`HttpConn::into_upgrade`]).
    pub fn upgrade_ready(&self) -> bool {
        self.upgrade.is_some() && self.state == State::Open && self.outgoing.is_empty()
    }

    /// Hands the connection over after an upgrade; `None` if there was none.
    pub fn into_upgrade(self) -> Option<Upgraded> {
        let (ws_server, request) = self.upgrade?;
        Some(Upgraded {
            conn: self.id,
            ws_server,
            transport: self.transport,
            leftover: self.input,
            request,
            cap_slot: self.cap_slot,
        })
    }

    /// True when no request is being read or answered.
    pub fn is_idle(&self) -> bool {
        self.outgoing.owed() == 0 && self.input.is_empty() && matches!(self.parse, Parse::Head)
    }

    /// Since when the connection sits between requests with nothing owed or being sent (a
    /// keep-alive connection that may be closed to make room); `None` while it is busy.
    pub fn idle_since(&self) -> Option<Instant> {
        let quiet = self.is_idle()
            && self.outgoing.is_empty()
            && self.upgrade.is_none()
            && self.state != State::Closed;
        quiet.then_some(self.last_activity)
    }

    /// Handles readiness.
    pub fn on_ready(&mut self, readable: bool, events: &mut EventQueue) {
        if self.state == State::Closed {
            return;
        }
        self.last_activity = Instant::now();
        self.flush();
        if self.state == State::Handshaking && self.transport.is_established() {
            self.state = State::Open;
        }
        // A writable-only event (the peer acknowledged data) needs no read: the socket said
        // nothing new arrived, and a `recv` would only answer `WouldBlock`. TLS handshakes
        // read on every event.
        if readable || self.state == State::Handshaking {
            self.pump(events);
        }
        if self.state == State::Handshaking && self.transport.is_established() {
            self.state = State::Open;
            self.pump(events);
        }
    }

    fn wants_input(&self) -> bool {
        self.reading
            && self.state != State::Closed
            && self.outgoing.owed() < MAX_PIPELINE
            && self.outgoing.unsent() < OUTPUT_HIGH_WATER
    }

    /// Reads and parses as long as requests may be taken.
    fn pump(&mut self, events: &mut EventQueue) {
        let mut limit = buffers::first_read(self.input.capacity() - self.input.len(), READ_CHUNK);
        loop {
            if !self.wants_input() {
                // Stopped before the socket said `WouldBlock`: `respond` must read again.
                self.paused = self.reading && self.state != State::Closed;
                break;
            }
            let before = self.input.len();
            let status = match self.transport.read_into(&mut self.input, limit) {
                Ok(status) => status,
                Err(_) => {
                    self.state = State::Closed;
                    return;
                }
            };
            let fresh = self.input.len() > before && self.request_started.is_none();
            // The read timeout counts from the first byte of a request; taken after parsing,
            // so a request that arrives whole costs no clock reading.
            match self.parse_requests(events) {
                Some(false) => self.request_started = None,
                Some(true) => self.request_started = Some(Instant::now()),
                None if fresh => self.request_started = Some(Instant::now()),
                None => {}
            }
            if status.eof {
                // The client is done sending: answer what it asked, then close. A stream has
                // no end the client could wait for: the client went away.
                self.reading = false;
                self.close_when_done = true;
                if self.outgoing.has_open_stream() {
                    self.close();
                    return;
                }
                break;
            }
            // A short read means the socket is drained (a new edge comes with more data); a
            // full one means more may be waiting.
            if status.bytes < limit {
                break;
            }
            limit = READ_CHUNK;
        }
        self.flush();
    }

    /// Parses and dispatches what the input holds. Returns `None` if no request was completed,
    /// else whether bytes of a next request are left in the input.
    fn parse_requests(&mut self, events: &mut EventQueue) -> Option<bool> {
        let mut completed = None;
        loop {
            if !self.reading || self.state == State::Closed {
                return completed;
            }
            match std::mem::replace(&mut self.parse, Parse::Head) {
                Parse::Head => {
                    if self.input.is_empty() {
                        return completed;
                    }
                    match parse_head(&self.input, &self.limits) {
                        Ok(None) => return completed,
                        Ok(Some((head, used))) => {
                            self.input.drain(..used);
                            let decoder = match head.framing {
                                BodyFraming::Chunked => Some(ChunkedDecoder::default()),
                                _ => None,
                            };
                            if head.expect_continue && head.framing != BodyFraming::Empty {
                                self.outgoing.push_interim(b"HTTP/1.1 100 Continue\r\n\r\n");
                            }
                            self.parse = Parse::Body {
                                head,
                                body: Vec::new(),
                                decoder,
                            };
                        }
                        Err(error) => {
                            self.reject(&error);
                            return completed;
                        }
                    }
                }
                Parse::Body {
                    head,
                    mut body,
                    mut decoder,
                } => {
                    let complete = match (&head.framing, decoder.as_mut()) {
                        (BodyFraming::Length(length), _) => {
                            let take = (length - body.len()).min(self.input.len());
                            body.extend(self.input.drain(..take));
                            body.len() == *length
                        }
                        (BodyFraming::Chunked, Some(decoder)) => {
                            match decoder.feed(&self.input, &mut body, self.limits.max_body) {
                                Ok(used) => {
                                    self.input.drain(..used);
                                    decoder.done()
                                }
                                Err(error) => {
                                    self.reject(&error);
                                    return completed;
                                }
                            }
                        }
                        _ => true,
                    };
                    if !complete {
                        self.parse = Parse::Body {
                            head,
                            body,
                            decoder,
                        };
                        return completed;
                    }
                    completed = Some(!self.input.is_empty());
                    self.dispatch(head, body, events);
                }
            }
        }
    }

    fn dispatch(&mut self, head: Head, body: Vec<u8>, events: &mut EventQueue) {
        if let Some(routes) = self.websocket.clone() {
            match upgrade::decide(&head, &routes, &self.peer) {
                Decision::Http => {}
                Decision::Refuse {
                    status,
                    text,
                    header,
                } => {
                    self.input.clear();
                    let mut response = Response::text(status, &text);
                    if let Some((name, value)) = header {
                        response.headers.push((name.into(), value.into()));
                    }
                    return self.answer_and_close(response);
                }
                Decision::Upgrade {
                    ws_server,
                    answer,
                    request,
                } => {
                    // The 101 goes out after any responses still owed; then the connection is
                    // the WebSocket server's, with whatever bytes followed the request.
                    self.outgoing.push_ready(answer, true);
                    self.reading = false;
                    self.upgrade = Some((ws_server, request));
                    self.request_started = None;
                    return self.flush();
                }
            }
        }
        let head_only = head.method() == "HEAD";
        if !head.keep_alive {
            self.reading = false;
        }
        if let Some(served) = self
            .static_files
            .as_ref()
            .and_then(|files| files.serve(&head))
        {
            let seq = self
                .outgoing
                .expect(head_only, head.keep_alive, head.version >= 1);
            return self.answer_static(seq, head.keep_alive, served);
        }
        let seq = self
            .outgoing
            .expect(head_only, head.keep_alive, head.version >= 1);
        events.push_back(NetEvent::HttpRequest {
            server: self.server,
            conn: self.id,
            seq,
            request: Request {
                head,
                body,
                remote: Arc::clone(&self.peer),
            },
        });
    }

    /// Answers a bad request (after the responses before it) and closes.
    fn reject(&mut self, error: &RequestError) {
        self.input.clear();
        self.answer_and_close(Response::text(error.status(), &format!("{error}\n")));
    }

    /// Answers with 408 if no request is outstanding (a request took too long to arrive),
    /// and closes.
    pub fn time_out_request(&mut self) {
        if self.outgoing.owed() == 0 && self.state == State::Open {
            self.answer_and_close(Response::text(408, "request timeout\n"));
        } else {
            self.close();
        }
    }

    fn answer_and_close(&mut self, response: Response) {
        let mut bytes = Vec::new();
        response.write_to(&mut bytes, false, false);
        self.outgoing.push_ready(bytes, false);
        self.reading = false;
        self.flush();
    }

    /// Answers request `seq` from a static-file mount.
    fn answer_static(&mut self, seq: u64, keep_alive: bool, served: Served) {
        match served {
            Served::Reply(response) => {
                self.outgoing.answer(seq, &response);
            }
            Served::File {
                response,
                file,
                length,
            } => {
                let mut head = Vec::with_capacity(320);
                response.write_head(&mut head, BodyLength::Known(length), true, keep_alive);
                self.outgoing.answer_file(seq, head, file, length);
            }
        }
        self.flush();
    }

    /// Closes at once (idle timeout, server shutdown).
    pub fn close(&mut self) {
        if self.state != State::Closed {
            self.transport.shutdown();
            self.state = State::Closed;
        }
    }

    /// The server stops: no more requests are read, the responses still owed are sent (with
    /// `Connection: close`), then the connection closes — at once if nothing is owed.
    pub fn close_after_responses(&mut self) {
        if self.outgoing.owed() == 0 {
            self.close();
            return;
        }
        self.reading = false;
        self.close_when_done = true;
        self.outgoing.close_after_owed();
    }

    /// The handler for request `seq` finished: queue its response (in request order).
    pub fn respond(&mut self, seq: u64, response: &Response, events: &mut EventQueue) -> bool {
        if !self.outgoing.answer(seq, response) {
            return false;
        }
        self.after_answer(events);
        true
    }

    /// Starts a streamed response to request `seq` (status and headers of `response`).
    pub fn start_stream(&mut self, seq: u64, response: &Response, events: &mut EventQueue) -> bool {
        if self.state == State::Closed || !self.outgoing.start_stream(seq, response) {
            return false;
        }
        self.after_answer(events);
        true
    }

    /// Queues a piece of the stream of request `seq` (`last`: and ends it). Returns the bytes
    /// still unsent, for the writer to wait when they pile up.
    pub fn write_stream(
        &mut self,
        seq: u64,
        data: &[u8],
        last: bool,
        events: &mut EventQueue,
    ) -> Result<usize, StreamError> {
        if self.state == State::Closed {
            return Err(StreamError::NotStreaming);
        }
        self.outgoing.write_stream(seq, data)?;
        if last {
            self.outgoing.finish_stream(seq)?;
        }
        self.after_answer(events);
        Ok(self.outgoing.unsent())
    }

    /// The writer of a stream waits (as operation `op`) until the unsent bytes drop below
    /// the stream's mark, or the connection closes; false if there is nothing to wait for.
    pub fn wait_for_drain(&mut self, op: u64) -> bool {
        if self.state == State::Closed || self.outgoing.unsent() < STREAM_HIGH_WATER {
            return false;
        }
        self.drain_waiter = Some(op);
        true
    }

    /// Operations to complete and open streams to report when the connection is gone:
    /// `(drain waiter, open stream sequence numbers)`.
    pub fn take_orphans(&mut self) -> (Option<u64>, Vec<u64>) {
        (self.drain_waiter.take(), self.outgoing.open_streams())
    }

    /// A waiting writer whose stream drained enough; its operation id.
    pub fn take_drained(&mut self) -> Option<u64> {
        if self.drain_waiter.is_some()
            && self.state != State::Closed
            && self.outgoing.unsent() < STREAM_HIGH_WATER / 2
        {
            return self.drain_waiter.take();
        }
        None
    }

    /// Sends what was answered and, if reading stopped on a full pipeline or send queue,
    /// reads again (the socket may hold requests no new readiness edge will announce).
    fn after_answer(&mut self, events: &mut EventQueue) {
        self.last_activity = Instant::now();
        self.flush();
        if self.paused {
            self.paused = false;
            self.pump(events);
        }
    }

    fn flush(&mut self) {
        if self.outgoing.flush(self.transport.as_mut()).is_err() {
            self.state = State::Closed;
            return;
        }
        if self.outgoing.closing {
            self.close_when_done = true;
            self.reading = false;
        }
        if self.outgoing.is_empty() {
            if matches!(self.parse, Parse::Head) {
                buffers::release_if_drained(&mut self.input);
            }
            if self.close_when_done {
                self.close();
            }
        }
    }
}
