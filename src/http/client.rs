//! The reactor-native HTTP/1.1 client: requests on non-blocking connections (plain or TLS),
//! response heads through `httparse`, bodies by `Content-Length`, chunked or until close, and
//! keep-alive connections pooled per (scheme, host, port), holding a few KiB of buffers while
//! idle. Hundreds of requests in flight cost no thread. Redirects are followed by the Lua
//! layer, which sees every hop.

use std::collections::HashMap;
use std::net::SocketAddr;

use mio::Interest;

use super::buffers;
pub use super::client_request::ClientRequest;
use super::framing::{ChunkedDecoder, parse_content_length};
use super::request::RequestError;
use crate::event::{EventQueue, NetEvent, Val};
use crate::net::connect;
use crate::net::describe_io_error;
use crate::net::socket_table::{Owner, SocketTable};
use crate::net::tls::TlsOptions;
use crate::net::transport::Transport;
use crate::reactor::ids::IdHasher;

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest response body accepted.
const MAX_BODY: usize = 256 * 1024 * 1024;
/// Bytes read per pass.
const READ_CHUNK: usize = 256 * 1024;
/// Streamed body bytes handed up per pass before reading pauses for a loop turn (so a fast
/// download neither piles up in the event queue nor starves other sockets).
const STREAM_PASS: usize = 1024 * 1024;
/// Idle pooled connections kept per host.
const IDLE_PER_HOST: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    tls: bool,
    host: String,
    port: u16,
}

enum Framing {
    Length(usize),
    Chunked(ChunkedDecoder),
    UntilClose,
    Empty,
}

struct Exchange {
    op: u64,
    request: ClientRequest,
    head_only: bool,
    /// The connection came from the pool (a failure before any response byte is retried once).
    reused: bool,
    status: Option<u16>,
    headers: Vec<(String, Val)>,
    keep_alive: bool,
    framing: Framing,
    body: Vec<u8>,
    /// Body bytes received so far (with `Content-Length`; streamed pieces leave `body`).
    received: usize,
    got_bytes: bool,
    /// The body goes to Lua as it arrives (a streamed request got a 2xx answer).
    streaming: bool,
}

struct ClientConn {
    transport: Box<dyn Transport>,
    key: PoolKey,
    connected: bool,
    exchange: Option<Exchange>,
    input: Vec<u8>,
    output: Vec<u8>,
    output_sent: usize,
    closed: bool,
    /// Streamed body bytes handed up in this pass.
    streamed: usize,
    /// Reading paused after a full pass of streamed body; readiness events do not read until
    /// `resume` (one pass per loop turn, so the event queue holds at most one pass).
    paused: bool,
}

/// What the socket table must do after a client event.
pub enum Followup {
    Nothing,
    /// Reading paused after a pass of streamed body: call `resume` on a later loop turn.
    Resume,
    /// Send this request again on a fresh connection (a pooled one had gone stale).
    Retry(u64, ClientRequest),
}

/// All client connections, busy or pooled.
#[derive(Default)]
pub struct HttpClient {
    conns: HashMap<u64, ClientConn, IdHasher>,
    idle: HashMap<PoolKey, Vec<u64>>,
}

impl HttpClient {
    /// Is any request in flight (each keeps the process alive until its callback ran)?
    pub fn is_busy(&self) -> bool {
        self.conns.values().any(|conn| conn.exchange.is_some())
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.conns
            .values()
            .filter(|conn| conn.exchange.is_some())
            .count()
    }

    /// The operation connection `id` is working on, if any.
    pub fn current_op(&self, id: u64) -> Option<u64> {
        self.conns
            .get(&id)?
            .exchange
            .as_ref()
            .map(|exchange| exchange.op)
    }

    /// Starts `request` as operation `op` on a pooled connection if one is idle; returns the
    /// connection id used, or `None` when a new connection is needed.
    pub fn try_pooled(
        &mut self,
        op: u64,
        request: ClientRequest,
        events: &mut EventQueue,
    ) -> Result<u64, Box<ClientRequest>> {
        let key = PoolKey {
            tls: request.url.tls,
            host: request.url.host.clone(),
            port: request.url.port,
        };
        while let Some(id) = self.idle.get_mut(&key).and_then(Vec::pop) {
            if let Some(conn) = self.conns.get_mut(&id)
                && !conn.closed
            {
                conn.start(op, request, true, events);
                return Ok(id);
            }
        }
        Err(Box::new(request))
    }

    /// Opens connection `id` to `address` and sends `request` on it as operation `op`.
    pub fn connect(
        &mut self,
        table: &mut SocketTable,
        id: u64,
        address: SocketAddr,
        op: u64,
        request: ClientRequest,
        events: &mut EventQueue,
    ) {
        let tls = request.url.tls.then(|| TlsOptions {
            verify: request.verify,
            server_name: None,
            ca_file: request.ca_file.clone(),
        });
        let transport = match connect::open(address, &request.url.host, tls.as_ref()) {
            Ok(transport) => transport,
            Err(error) => {
                events.push_back(NetEvent::failure(op, error.to_string()));
                return;
            }
        };
        let key = PoolKey {
            tls: request.url.tls,
            host: request.url.host.clone(),
            port: request.url.port,
        };
        let mut conn = ClientConn {
            transport,
            key,
            connected: false,
            exchange: None,
            input: Vec::new(),
            output: Vec::new(),
            output_sent: 0,
            closed: false,
            streamed: 0,
            paused: false,
        };
        if let Err(error) = table.register(
            conn.transport.socket(),
            id,
            Interest::READABLE | Interest::WRITABLE,
            Owner::HttpClientConn,
        ) {
            events.push_back(NetEvent::failure(op, describe_io_error(&error)));
            return;
        }
        conn.start(op, request, false, events);
        self.conns.insert(id, conn);
    }

    /// Readiness on connection `id`.
    pub fn on_ready(
        &mut self,
        table: &mut SocketTable,
        id: u64,
        hangup: bool,
        events: &mut EventQueue,
    ) -> Followup {
        let Some(conn) = self.conns.get_mut(&id) else {
            return Followup::Nothing;
        };
        if hangup {
            conn.transport.note_hangup();
        }
        let followup = conn.on_ready(events);
        self.settle(table, id);
        followup
    }

    /// Reads again on connection `id` after a paused pass ([`Followup::Resume`]).
    pub fn resume(
        &mut self,
        table: &mut SocketTable,
        id: u64,
        events: &mut EventQueue,
    ) -> Followup {
        let Some(conn) = self.conns.get_mut(&id) else {
            return Followup::Nothing;
        };
        conn.paused = false;
        let followup = conn.pump(events);
        self.settle(table, id);
        followup
    }

    /// Ends the exchange `op` on connection `id` with "timeout".
    pub fn time_out(&mut self, table: &mut SocketTable, id: u64, op: u64, events: &mut EventQueue) {
        if let Some(conn) = self.conns.get_mut(&id)
            && conn
                .exchange
                .as_ref()
                .is_some_and(|exchange| exchange.op == op)
        {
            conn.exchange = None;
            conn.closed = true;
            events.push_back(NetEvent::failure(op, "timeout"));
        }
        self.settle(table, id);
    }

    /// Pools or drops connection `id` after an event.
    fn settle(&mut self, table: &mut SocketTable, id: u64) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        if conn.exchange.is_none() && buffers::trim_pending() && !self.is_busy() {
            // The last exchange after large transfers ended: a quiet moment to give memory back.
            buffers::trim_if_pending();
        }
        if conn.closed {
            if let Some(mut conn) = self.conns.remove(&id) {
                table.deregister(conn.transport.socket(), id);
                if let Some(list) = self.idle.get_mut(&conn.key) {
                    list.retain(|other| *other != id);
                }
            }
        } else if conn.exchange.is_none() {
            let list = self.idle.entry(conn.key.clone()).or_default();
            if !list.contains(&id) {
                if list.len() >= IDLE_PER_HOST {
                    if let Some(mut conn) = self.conns.remove(&id) {
                        table.deregister(conn.transport.socket(), id);
                    }
                    return;
                }
                list.push(id);
            }
        }
    }
}

impl ClientConn {
    fn start(&mut self, op: u64, request: ClientRequest, reused: bool, events: &mut EventQueue) {
        let bytes = request.to_bytes();
        self.exchange = Some(Exchange {
            op,
            head_only: request.method == "HEAD",
            request,
            reused,
            status: None,
            headers: Vec::new(),
            keep_alive: true,
            framing: Framing::Empty,
            body: Vec::new(),
            received: 0,
            got_bytes: false,
            streaming: false,
        });
        self.input.clear();
        self.output = bytes;
        self.output_sent = 0;
        self.paused = false;
        if self.connected {
            let _ = self.pump(events);
        }
    }

    fn on_ready(&mut self, events: &mut EventQueue) -> Followup {
        if !self.connected {
            let socket = self.transport.socket();
            match socket.take_error() {
                Ok(Some(error)) | Err(error) => {
                    return self.fail(&describe_io_error(&error), events);
                }
                Ok(None) => {}
            }
            match socket.peer_addr() {
                Ok(_) => {
                    self.connected = true;
                    let _ = socket.set_nodelay(true);
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotConnected => {
                    return Followup::Nothing;
                }
                Err(error) => return self.fail(&describe_io_error(&error), events),
            }
        }
        self.pump(events)
    }

    /// Sends what is queued, reads what arrived, and finishes the exchange when complete.
    fn pump(&mut self, events: &mut EventQueue) -> Followup {
        if let Err(error) = self.transport.flush_pending() {
            return self.fail(&describe_io_error(&error), events);
        }
        while self.output_sent < self.output.len() {
            match self.transport.write_some(&self.output[self.output_sent..]) {
                Ok(0) => break,
                Ok(n) => self.output_sent += n,
                Err(error) => return self.fail(&describe_io_error(&error), events),
            }
        }
        if self.output_sent == self.output.len() {
            self.output.clear();
            self.output_sent = 0;
            buffers::release_if_drained(&mut self.output);
        }
        let mut limit = buffers::first_read(self.input.capacity() - self.input.len(), READ_CHUNK);
        if self.paused {
            return Followup::Nothing;
        }
        self.streamed = 0;
        loop {
            if self.streamed >= STREAM_PASS {
                self.paused = true;
                return Followup::Resume;
            }
            let before = self.input.len();
            let status = match self.transport.read_into(&mut self.input, limit) {
                Ok(status) => status,
                Err(error) => return self.fail(&describe_io_error(&error), events),
            };
            if self.input.len() > before
                && let Some(exchange) = self.exchange.as_mut()
            {
                exchange.got_bytes = true;
            }
            if self.exchange.is_none() {
                // An idle pooled connection: the server closed it or sent something stray.
                if status.eof || self.input.len() > before {
                    self.closed = true;
                }
                return Followup::Nothing;
            }
            match self.parse(status.eof, events) {
                Ok(true) => {
                    self.finish(events);
                    return Followup::Nothing;
                }
                Ok(false) => {}
                Err(message) => return self.fail(&message, events),
            }
            if status.eof {
                return self.fail("connection closed before the response was complete", events);
            }
            if status.bytes < limit {
                // Drained: the next bytes come with a new readiness event.
                return Followup::Nothing;
            }
            limit = READ_CHUNK;
        }
    }

    /// Parses what has arrived; `Ok(true)` when the response is complete.
    fn parse(&mut self, eof: bool, events: &mut EventQueue) -> Result<bool, String> {
        let Some(exchange) = self.exchange.as_mut() else {
            return Ok(false);
        };
        if exchange.status.is_none() {
            let mut fields = [httparse::EMPTY_HEADER; 128];
            let mut response = httparse::Response::new(&mut fields);
            let used = match response.parse(&self.input) {
                Ok(httparse::Status::Complete(used)) => used,
                Ok(httparse::Status::Partial) => {
                    if self.input.len() > MAX_HEAD {
                        return Err("response head too large".into());
                    }
                    return Ok(false);
                }
                Err(error) => return Err(format!("invalid HTTP response: {error}")),
            };
            let code = response.code.unwrap_or(0);
            let version = response.version.unwrap_or(1);
            let mut length = None;
            let mut chunked = false;
            let mut close = version == 0;
            for field in response.headers.iter() {
                let name = field.name.to_ascii_lowercase();
                let value = String::from_utf8_lossy(field.value).trim().to_owned();
                match name.as_str() {
                    "content-length" => {
                        let parsed = match parse_content_length(&value) {
                            Some(Ok(parsed)) => parsed,
                            Some(Err(())) => return Err("response body too large".into()),
                            None => return Err(format!("invalid Content-Length '{value}'")),
                        };
                        if length.is_some_and(|first| first != parsed) {
                            return Err("conflicting Content-Length".into());
                        }
                        length = Some(parsed);
                    }
                    "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                    "connection" => close = value.to_ascii_lowercase().contains("close"),
                    _ => {}
                }
                match exchange
                    .headers
                    .iter_mut()
                    .find(|(existing, _)| *existing == name)
                {
                    Some((_, Val::Text(joined))) => {
                        joined.push_str(", ");
                        joined.push_str(&value);
                    }
                    _ => exchange.headers.push((name, Val::Text(value))),
                }
            }
            self.input.drain(..used);
            if code == 100 {
                // Interim response: wait for the real one.
                exchange.headers.clear();
                return self.parse(eof, events);
            }
            exchange.status = Some(code);
            exchange.keep_alive = !close;
            exchange.streaming = exchange.request.stream && (200..300).contains(&code);
            if exchange.streaming {
                events.push_back(NetEvent::Emit {
                    owner: exchange.op,
                    event: "head",
                    args: vec![
                        Val::Int(i64::from(code)),
                        Val::Map(exchange.headers.clone()),
                    ],
                });
            }
            exchange.framing =
                if exchange.head_only || code == 204 || code == 304 || (100..200).contains(&code) {
                    Framing::Empty
                } else if chunked {
                    Framing::Chunked(ChunkedDecoder::default())
                } else if let Some(length) = length {
                    if length > MAX_BODY && !exchange.streaming {
                        return Err("response body too large".into());
                    }
                    Framing::Length(length)
                } else {
                    exchange.keep_alive = false;
                    Framing::UntilClose
                };
        }
        let max_body = if exchange.streaming {
            usize::MAX
        } else {
            MAX_BODY
        };
        let complete = match &mut exchange.framing {
            Framing::Empty => true,
            Framing::Length(length) => {
                let take = (*length - exchange.received).min(self.input.len());
                exchange.body.extend(self.input.drain(..take));
                exchange.received += take;
                exchange.received == *length
            }
            Framing::Chunked(decoder) => {
                let used = decoder
                    .feed(&self.input, &mut exchange.body, max_body)
                    .map_err(|error| match error {
                        RequestError::BodyTooLarge => "response body too large".to_owned(),
                        RequestError::Malformed(reason) => {
                            format!("invalid chunked response: {reason}")
                        }
                        RequestError::HeadTooLarge => {
                            "invalid chunked response: trailer section too large".to_owned()
                        }
                        other => format!("invalid chunked response: {other}"),
                    })?;
                self.input.drain(..used);
                decoder.done()
            }
            Framing::UntilClose => {
                exchange.body.append(&mut self.input);
                if exchange.body.len() > max_body {
                    return Err("response body too large".into());
                }
                eof
            }
        };
        if exchange.streaming && !exchange.body.is_empty() {
            // The piece goes to Lua now; the buffer starts again small.
            let piece = std::mem::take(&mut exchange.body);
            self.streamed += piece.len();
            events.push_back(NetEvent::Emit {
                owner: exchange.op,
                event: "chunk",
                args: vec![Val::Bytes(piece)],
            });
        }
        Ok(complete)
    }

    fn finish(&mut self, events: &mut EventQueue) {
        let Some(exchange) = self.exchange.take() else {
            return;
        };
        if !exchange.keep_alive || !self.input.is_empty() {
            self.closed = true;
        }
        // Pooled between requests with a few KiB, whatever the response was.
        buffers::release_if_drained(&mut self.input);
        if exchange.request.body.capacity() > buffers::SMALL_READ {
            buffers::released(exchange.request.body.capacity());
        }
        events.push_back(NetEvent::Complete {
            op: exchange.op,
            values: vec![
                Val::Bool(true),
                Val::Record(vec![
                    ("code", Val::Int(i64::from(exchange.status.unwrap_or(0)))),
                    ("headers", Val::Map(exchange.headers)),
                    ("body", Val::Bytes(exchange.body)),
                    ("url", Val::Text(exchange.request.url.to_text())),
                ]),
            ],
        });
    }

    fn fail(&mut self, message: &str, events: &mut EventQueue) -> Followup {
        self.closed = true;
        let Some(exchange) = self.exchange.take() else {
            return Followup::Nothing;
        };
        if exchange.reused && !exchange.got_bytes {
            return Followup::Retry(exchange.op, exchange.request);
        }
        events.push_back(NetEvent::failure(exchange.op, message));
        Followup::Nothing
    }
}
