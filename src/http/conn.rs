//! One HTTP/1.1 server connection: reads requests off the transport (keep-alive and pipelining,
//! `Content-Length` and chunked bodies, `Expect: 100-continue`), hands each complete request to
//! Lua as a `request` event with a sequence number, and writes the responses back strictly in
//! request order as the handlers (which may yield) finish. Bad requests are answered here (400,
//! 413, 431, 501, 408) and the connection closes after the answer.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::buffers;
use super::framing::ChunkedDecoder;
use super::request::{BodyFraming, Head, Limits, Request, RequestError, parse_head};
use super::response::Response;
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

struct Slot {
    seq: u64,
    head_only: bool,
    keep_alive: bool,
    bytes: Option<Vec<u8>>,
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
    slots: VecDeque<Slot>,
    next_seq: u64,
    output: Vec<u8>,
    output_sent: usize,
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
            slots: VecDeque::new(),
            next_seq: 1,
            output: Vec::new(),
            output_sent: 0,
            reading: true,
            close_when_done: false,
            paused: false,
            request_started: None,
            last_activity: Instant::now(),
            websocket,
            upgrade: None,
            cap_slot: None,
        }
    }

    /// True once an upgrade's 101 is sent and nothing else is owed: the connection can move
    /// to its WebSocket server ([`HttpConn::into_upgrade`]).
    pub fn upgrade_ready(&self) -> bool {
        self.upgrade.is_some()
            && self.state == State::Open
            && self.slots.is_empty()
            && self.output.is_empty()
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
        self.slots.is_empty() && self.input.is_empty() && matches!(self.parse, Parse::Head)
    }

    /// Since when the connection sits between requests with nothing owed or being sent (a
    /// keep-alive connection that may be closed to make room); `None` while it is busy.
    pub fn idle_since(&self) -> Option<Instant> {
        let quiet = self.is_idle()
            && self.output.is_empty()
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
            && self.slots.len() < MAX_PIPELINE
            && self.output.len() - self.output_sent < OUTPUT_HIGH_WATER
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
                // The client is done sending: answer what it asked, then close.
                self.reading = false;
                self.close_when_done = true;
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
                                self.output
                                    .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
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
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    self.slots.push_back(Slot {
                        seq,
                        head_only: false,
                        keep_alive: true,
                        bytes: Some(answer),
                    });
                    self.reading = false;
                    self.upgrade = Some((ws_server, request));
                    self.request_started = None;
                    return self.advance();
                }
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.slots.push_back(Slot {
            seq,
            head_only: head.method() == "HEAD",
            keep_alive: head.keep_alive,
            bytes: None,
        });
        if !head.keep_alive {
            self.reading = false;
        }
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
        if self.slots.is_empty() && self.state == State::Open {
            self.answer_and_close(Response::text(408, "request timeout\n"));
        } else {
            self.close();
        }
    }

    fn answer_and_close(&mut self, response: Response) {
        let mut bytes = Vec::new();
        response.write_to(&mut bytes, false, false);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.slots.push_back(Slot {
            seq,
            head_only: false,
            keep_alive: false,
            bytes: Some(bytes),
        });
        self.reading = false;
        self.advance();
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
        if self.slots.is_empty() {
            self.close();
            return;
        }
        self.reading = false;
        self.close_when_done = true;
        for slot in &mut self.slots {
            slot.keep_alive = false;
        }
    }

    /// The handler for request `seq` finished: queue its response (in request order).
    pub fn respond(&mut self, seq: u64, response: &Response, events: &mut EventQueue) -> bool {
        let Some(index) = self
            .slots
            .iter()
            .position(|slot| slot.seq == seq && slot.bytes.is_none())
        else {
            return false;
        };
        let (head_only, keep_alive) = (self.slots[index].head_only, self.slots[index].keep_alive);
        if index == 0 {
            // The oldest outstanding request (always so without pipelining): the response
            // goes straight into the output buffer.
            response.write_to(&mut self.output, head_only, keep_alive);
            self.slots.pop_front();
            self.sent_one(keep_alive);
        } else {
            let mut bytes = Vec::with_capacity(response.body.len() + 160);
            response.write_to(&mut bytes, head_only, keep_alive);
            self.slots[index].bytes = Some(bytes);
        }
        self.last_activity = Instant::now();
        self.advance();
        if self.paused {
            // Reading stopped on a full pipeline or send queue: the socket may hold requests
            // that no new readiness edge will announce.
            self.paused = false;
            self.pump(events);
        }
        true
    }

    /// Moves finished responses from the front of the queue to the output and sends.
    fn advance(&mut self) {
        while let Some(slot) = self.slots.front_mut() {
            let Some(bytes) = slot.bytes.take() else {
                break;
            };
            let keep_alive = slot.keep_alive;
            self.slots.pop_front();
            if self.output_sent == self.output.len() {
                self.output = bytes;
                self.output_sent = 0;
            } else {
                self.output.extend_from_slice(&bytes);
            }
            if !self.sent_one(keep_alive) {
                break;
            }
        }
        self.flush();
    }

    /// Bookkeeping after a response was queued for output: one that closes the connection
    /// ends reading and drops the requests behind it. False if nothing more may be sent.
    fn sent_one(&mut self, keep_alive: bool) -> bool {
        if !keep_alive {
            self.close_when_done = true;
            self.reading = false;
            self.slots.clear();
        }
        keep_alive
    }

    fn flush(&mut self) {
        if let Err(_error) = self.transport.flush_pending() {
            self.state = State::Closed;
            return;
        }
        while self.output_sent < self.output.len() {
            match self.transport.write_some(&self.output[self.output_sent..]) {
                Ok(0) => break,
                Ok(n) => self.output_sent += n,
                Err(_) => {
                    self.state = State::Closed;
                    return;
                }
            }
        }
        if self.output_sent == self.output.len() {
            self.output.clear();
            self.output_sent = 0;
            // Everything answered: a buffer that grew for a large request or response goes.
            buffers::release_if_drained(&mut self.output);
            if self.slots.is_empty() && matches!(self.parse, Parse::Head) {
                buffers::release_if_drained(&mut self.input);
            }
            if self.close_when_done && self.slots.is_empty() {
                self.close();
            }
        }
    }
}
