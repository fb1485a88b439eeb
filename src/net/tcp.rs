//! One TCP connection (client or accepted), plain or TLS: the connect/handshake progress, the
//! receive buffer with its queue of read requests (served by `reads.rs`), the send queue whose
//! entries complete when the transport has taken their last byte, and flow control: reading from
//! the kernel pauses while the unconsumed input (buffered, or handed to Lua in events not yet
//! run) is at its bound (so a peer that floods us is held back by TCP itself) and while our own
//! send queue is full (so an echoing handler cannot grow memory without bound); one readiness
//! event reads at most a turn's budget, and the socket table resumes the rest on the next turn.

use std::collections::VecDeque;

use super::describe_io_error;
use super::reads::{self, Served};
pub use super::reads::{DEFAULT_READ_MAX, InputLimits, ReadKind, ReadRequest};
use super::transport::{self, Transport, connect_finished};
use crate::event::{EventQueue, NetEvent, Val};

/// Bytes read per pass for connections that emit `data_received` events.
const EVENT_CHUNK: usize = 64 * 1024;
/// Bytes read per pass for connections that buffer for read requests.
const READ_CHUNK: usize = 256 * 1024;
/// Bytes one readiness event may read from one connection before the loop moves on (the rest
/// is read on a later turn), so a flooding peer cannot starve timers and other sockets.
const TURN_BUDGET: usize = 256 * 1024;
/// A drained receive buffer whose capacity grew past this is shrunk back.
const SHRINK_ABOVE: usize = 512 * 1024;
/// Capacity a shrunk receive buffer keeps.
const SHRINK_TO: usize = 16 * 1024;
/// Hard limit of queued outgoing bytes; a write beyond it fails.
pub const SEND_LIMIT: usize = 64 * 1024 * 1024;

struct WriteEntry {
    data: Vec<u8>,
    offset: usize,
    op: Option<u64>,
    /// Bytes of the original write (some may have gone out before it was queued).
    total: usize,
}

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// TCP connect in progress (client side).
    Connecting,
    /// TCP up, TLS handshake in progress.
    Handshaking,
    /// Carrying data.
    Open,
    /// Closed by us or failed; kept only until the owner forgets it.
    Closed,
}

/// A TCP connection and its buffers.
pub struct TcpConn {
    pub id: u64,
    pub transport: Box<dyn Transport>,
    pub phase: Phase,
    /// The peer, as `ip:port`.
    pub peer: String,
    /// The connect operation to complete when the connection is ready.
    pub connect_op: Option<u64>,
    /// The timer limiting the connect, if any.
    pub connect_timer: Option<u64>,
    /// Read timeout in seconds (`None`: wait for ever).
    pub timeout: Option<f64>,
    /// The server that accepted it (its listeners hear `client_connected`/`_disconnected`).
    pub server: Option<u64>,
    /// Incoming data goes to the server's `data_received` listeners instead of read requests.
    pub emit_data: bool,
    /// Counted in the alive set.
    pub referenced: bool,
    /// How much input it may hold.
    pub limits: InputLimits,
    /// The timer that resumes reading on a later turn, while one is armed.
    pub resume_timer: Option<u64>,
    /// An accepted connection's place in the connection caps (`caps.rs`).
    pub cap_slot: Option<super::caps::CapSlot>,
    received: Vec<u8>,
    /// How much of `received` the oldest read request searched for its terminator in vain.
    scanned: usize,
    /// Bytes handed to Lua in `data_received` events that may not have run yet.
    in_flight: usize,
    /// Reading stopped with data left (turn budget spent, or events not yet run): someone
    /// must call [`TcpConn::resume`] on a later turn, as no new readiness edge may come.
    more: bool,
    reads: VecDeque<ReadRequest>,
    /// Timers of finished reads, not yet cancelled by the owner.
    done_timers: Vec<u64>,
    writes: VecDeque<WriteEntry>,
    queued_bytes: usize,
    /// The peer sent EOF.
    pub eof: bool,
    /// Data may be waiting in the kernel that we chose not to read yet.
    unread: bool,
    /// `close()` was called: finish sending, then close.
    closing: bool,
}

impl TcpConn {
    /// A connection over `transport` in `phase`.
    pub fn new(id: u64, transport: Box<dyn Transport>, phase: Phase, peer: String) -> TcpConn {
        TcpConn {
            id,
            transport,
            phase,
            peer,
            connect_op: None,
            connect_timer: None,
            timeout: None,
            server: None,
            emit_data: false,
            referenced: true,
            limits: InputLimits::default(),
            resume_timer: None,
            cap_slot: None,
            received: Vec::new(),
            scanned: 0,
            in_flight: 0,
            more: false,
            reads: VecDeque::new(),
            done_timers: Vec::new(),
            writes: VecDeque::new(),
            queued_bytes: 0,
            eof: false,
            unread: true,
            closing: false,
        }
    }

    /// True while the connection keeps the process alive.
    pub fn is_alive(&self) -> bool {
        self.referenced && self.phase != Phase::Closed && (!self.eof || !self.writes.is_empty())
    }

    /// True once the connection is closed and nothing is left to read: it can be dropped.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Closed && self.received.is_empty()
    }

    /// Handles a readiness event.
    pub fn on_ready(&mut self, readable: bool, writable: bool, events: &mut EventQueue) {
        if self.phase == Phase::Connecting {
            if !writable && !readable {
                return;
            }
            match connect_finished(self.transport.socket()) {
                Ok(true) => self.on_connected(events),
                Ok(false) => return,
                Err(error) => {
                    let message = describe_io_error(&error);
                    self.fail(&message, events);
                    return;
                }
            }
        }
        if writable || self.phase == Phase::Handshaking {
            self.flush(events);
        }
        if readable || self.unread {
            self.pump_reads(events);
        }
        if self.phase == Phase::Handshaking && self.transport.is_established() {
            self.on_established(events);
        }
    }

    fn on_connected(&mut self, events: &mut EventQueue) {
        let _ = self.transport.socket().set_nodelay(true);
        self.phase = Phase::Handshaking;
        if self.transport.is_established() {
            self.on_established(events);
        }
    }

    fn on_established(&mut self, events: &mut EventQueue) {
        self.phase = Phase::Open;
        if let Some(op) = self.connect_op.take() {
            let message = format!("Connected to {}", self.peer);
            events.push_back(NetEvent::success(op, Val::Int(self.id as i64), message));
        } else if let Some(server) = self.server {
            events.push_back(NetEvent::Emit {
                owner: server,
                event: "client_connected",
                args: vec![Val::Int(self.id as i64), Val::Text(self.peer.clone())],
            });
        }
        self.flush(events);
        self.pump_reads(events);
    }

    /// Starts an accepted connection (the server side of a plain or TLS connection).
    pub fn start_accepted(&mut self, events: &mut EventQueue) {
        self.on_connected(events);
    }

    /// Queues `data`; `op` completes when the transport has taken all of it.
    pub fn write(&mut self, data: &[u8], op: Option<u64>, events: &mut EventQueue) {
        if self.phase == Phase::Closed || self.closing {
            if let Some(op) = op {
                events.push_back(NetEvent::failure(op, "closed"));
            }
            return;
        }
        if self.queued_bytes + data.len() > SEND_LIMIT {
            if let Some(op) = op {
                events.push_back(NetEvent::failure(
                    op,
                    format!("send buffer full ({} MiB queued)", SEND_LIMIT >> 20),
                ));
            }
            return;
        }
        // Nothing queued ahead: hand the bytes to the transport straight from the caller's
        // buffer and copy only what it does not take.
        let mut taken = 0;
        if self.phase == Phase::Open && self.writes.is_empty() {
            match self.transport.write_some(data) {
                Ok(n) => taken = n,
                Err(error) => {
                    self.fail(&describe_io_error(&error), events);
                    if let Some(op) = op {
                        events.push_back(NetEvent::failure(op, describe_io_error(&error)));
                    }
                    return;
                }
            }
            if taken == data.len() {
                if let Some(op) = op {
                    let sent = data.len();
                    events.push_back(NetEvent::success(
                        op,
                        Val::Int(sent as i64),
                        format!("Sent {sent} bytes"),
                    ));
                }
                return;
            }
        }
        self.queued_bytes += data.len() - taken;
        self.writes.push_back(WriteEntry {
            data: data[taken..].to_vec(),
            offset: 0,
            op,
            total: data.len(),
        });
        if self.phase == Phase::Open {
            self.flush(events);
        }
    }

    /// Sends queued data until the transport stops taking it.
    fn flush(&mut self, events: &mut EventQueue) {
        if let Err(error) = self.transport.flush_pending() {
            self.fail(&describe_io_error(&error), events);
            return;
        }
        if self.phase != Phase::Open {
            return;
        }
        while let Some(entry) = self.writes.front_mut() {
            let remaining = &entry.data[entry.offset..];
            let taken = match self.transport.write_some(remaining) {
                Ok(taken) => taken,
                Err(error) => {
                    self.fail(&describe_io_error(&error), events);
                    return;
                }
            };
            entry.offset += taken;
            self.queued_bytes -= taken;
            if entry.offset < entry.data.len() {
                break;
            }
            let sent = entry.total;
            if let Some(op) = entry.op {
                events.push_back(NetEvent::success(
                    op,
                    Val::Int(sent as i64),
                    format!("Sent {sent} bytes"),
                ));
            }
            self.writes.pop_front();
        }
        if self.writes.is_empty() && self.closing {
            self.finish_close(events);
        } else if self.emit_data && self.unread && self.queued_bytes < self.limits.input / 4 {
            // The send queue drained: resume reading what the echoing handler paused.
            self.pump_reads(events);
        }
    }

    /// Queues a read request and serves it at once if the buffer allows. A request that can
    /// never fit the connection's limits fails at once with `read too large`.
    pub fn read(&mut self, request: ReadRequest, events: &mut EventQueue) {
        if let Err(message) = reads::check(&request.kind, &self.limits) {
            self.done_timers.extend(request.timer);
            events.push_back(NetEvent::failure(request.op, message));
            return;
        }
        if self.phase == Phase::Closed {
            // Closed, but bytes received before the close can still be read.
            let served = reads::serve(
                &request.kind,
                &mut self.received,
                true,
                &self.limits,
                &mut 0,
            );
            self.done_timers.extend(request.timer);
            events.push_back(match served {
                Served::Data(data) => {
                    let message = format!("Received {} bytes", data.len());
                    NetEvent::success(request.op, Val::Bytes(data), message)
                }
                Served::Fail(message) => NetEvent::failure(request.op, message),
                Served::Wait => NetEvent::failure(request.op, "closed"),
            });
            self.trim_buffer();
            return;
        }
        self.reads.push_back(request);
        if self.phase == Phase::Open {
            self.pump_reads(events);
        }
    }

    /// Ends a read request with "timeout"; already received bytes stay buffered.
    pub fn time_out_read(&mut self, op: u64, events: &mut EventQueue) {
        if let Some(index) = self.reads.iter().position(|read| read.op == op)
            && let Some(read) = self.reads.remove(index)
        {
            if index == 0 {
                self.scanned = 0;
            }
            self.done_timers.extend(read.timer);
            events.push_back(NetEvent::failure(op, "timeout"));
        }
    }

    /// The runtime has run every event queued so far: the data handed over is consumed.
    pub fn events_consumed(&mut self) {
        self.in_flight = 0;
    }

    /// True if reading stopped with data left and must be resumed on a later turn.
    pub fn wants_resume(&self) -> bool {
        self.more && self.phase != Phase::Closed
    }

    /// Reads on (a later turn after [`TcpConn::wants_resume`]).
    pub fn resume(&mut self, events: &mut EventQueue) {
        self.more = false;
        if self.phase == Phase::Open {
            self.pump_reads(events);
        }
    }

    /// How many more bytes may be read now: reading pauses while the unconsumed input (or, in
    /// event mode, the unsent output) is at its bound.
    fn room(&self) -> usize {
        if self.emit_data {
            if self.queued_bytes >= self.limits.input {
                return 0;
            }
            return self.limits.input.saturating_sub(self.in_flight);
        }
        reads::buffer_cap(self.reads.front().map(|read| &read.kind), &self.limits)
            .saturating_sub(self.received.len())
    }

    /// Reads from the transport as far as someone wants the data and the turn budget allows,
    /// then serves requests.
    fn pump_reads(&mut self, events: &mut EventQueue) {
        if self.phase == Phase::Closed {
            return;
        }
        let mut budget = TURN_BUDGET;
        loop {
            let room = self.room();
            if self.eof || room == 0 || budget == 0 {
                break;
            }
            let before = self.received.len();
            // Event mode hands each chunk over at once: keep chunks small enough to come from
            // the heap (not fresh zeroed pages) and to spread work over events.
            let chunk = if self.emit_data {
                EVENT_CHUNK
            } else {
                READ_CHUNK
            };
            let limit = chunk.min(room).min(budget);
            let read = if self.emit_data && self.received.is_empty() {
                transport::read_chunk(self.transport.as_mut(), &mut self.received, limit)
            } else {
                self.transport.read_into(&mut self.received, limit)
            };
            match read {
                Ok(status) => {
                    self.unread = status.bytes == limit && !status.eof;
                    budget = budget.saturating_sub(status.bytes);
                    if status.eof {
                        self.eof = true;
                    }
                    if self.received.len() == before && !status.eof {
                        break;
                    }
                }
                Err(error) => {
                    self.fail(&describe_io_error(&error), events);
                    return;
                }
            }
            if self.emit_data && self.phase == Phase::Open {
                self.emit_received(events);
            } else {
                self.serve_reads(events);
            }
            if !self.unread {
                break;
            }
        }
        if self.room() == 0 && !self.eof {
            // We stopped before WouldBlock: the next request must read again.
            self.unread = true;
        }
        // Data may be left in the kernel with no new edge to come: read on next turn when the
        // budget ran out, or once the events handed over have run (the runtime runs them all
        // each turn).
        let paused_for_events = self.emit_data && self.queued_bytes < self.limits.input;
        self.more = self.unread && !self.eof && (budget == 0 || paused_for_events);
        // Deliver what is buffered even when this pass read nothing new: data that came with
        // the last TLS handshake flight arrives before the connection counts as open.
        if !self.emit_data {
            self.serve_reads(events);
        } else if self.phase == Phase::Open {
            self.emit_received(events);
        }
        if self.eof {
            self.on_eof(events);
        }
    }

    fn emit_received(&mut self, events: &mut EventQueue) {
        if let Some(server) = self.server
            && !self.received.is_empty()
        {
            let data = std::mem::take(&mut self.received);
            self.in_flight += data.len();
            events.push_back(NetEvent::Emit {
                owner: server,
                event: "data_received",
                args: vec![Val::Int(self.id as i64), Val::Bytes(data)],
            });
        }
    }

    /// Answers waiting read requests from the buffer, in order.
    fn serve_reads(&mut self, events: &mut EventQueue) {
        while let Some(request) = self.reads.front() {
            let served = reads::serve(
                &request.kind,
                &mut self.received,
                self.eof,
                &self.limits,
                &mut self.scanned,
            );
            let (op, timer) = (request.op, request.timer);
            let event = match served {
                Served::Data(data) => {
                    let message = format!("Received {} bytes", data.len());
                    NetEvent::success(op, Val::Bytes(data), message)
                }
                Served::Fail(message) => NetEvent::failure(op, message),
                Served::Wait if self.eof => NetEvent::failure(op, "closed"),
                Served::Wait => break,
            };
            self.reads.pop_front();
            self.scanned = 0;
            self.done_timers.extend(timer);
            events.push_back(event);
        }
        self.trim_buffer();
    }

    /// Gives memory back after a burst: a receive buffer that grew large keeps only a small
    /// capacity once it holds little.
    fn trim_buffer(&mut self) {
        let capacity = self.received.capacity();
        if capacity > SHRINK_ABOVE && self.received.len() < capacity / 4 {
            self.received.shrink_to(self.received.len().max(SHRINK_TO));
        }
    }

    /// The peer closed its side: like Node.js without `allowHalfOpen`, we finish sending and
    /// close ours. Buffered data stays readable until taken.
    fn on_eof(&mut self, events: &mut EventQueue) {
        if self.phase == Phase::Closed || self.closing {
            return;
        }
        self.closing = true;
        if self.writes.is_empty() {
            self.finish_close(events);
        }
    }

    fn emit_disconnected(&self, events: &mut EventQueue) {
        if let Some(server) = self.server {
            events.push_back(NetEvent::Emit {
                owner: server,
                event: "client_disconnected",
                args: vec![Val::Int(self.id as i64), Val::Text(self.peer.clone())],
            });
        }
    }

    /// Timeout timers of reads that have finished since the last call, for the owner to
    /// cancel (no scan of all timers needed).
    pub fn take_done_timers(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.done_timers)
    }

    /// Timer ids of pending reads, to cancel when the connection goes away.
    pub fn read_timers(&self) -> impl Iterator<Item = u64> + '_ {
        self.reads.iter().filter_map(|read| read.timer)
    }

    /// Closes: pending reads fail with "closed", unread input is dropped, queued data is
    /// still sent, then the socket closes.
    pub fn close(&mut self, events: &mut EventQueue) {
        self.received = Vec::new();
        if self.phase == Phase::Closed {
            return;
        }
        for read in self.reads.drain(..) {
            self.done_timers.extend(read.timer);
            events.push_back(NetEvent::failure(read.op, "closed"));
        }
        if let Some(op) = self.connect_op.take() {
            events.push_back(NetEvent::failure(op, "closed"));
        }
        self.closing = true;
        if self.writes.is_empty() || self.phase != Phase::Open {
            self.finish_close(events);
        }
    }

    fn finish_close(&mut self, events: &mut EventQueue) {
        for entry in self.writes.drain(..) {
            if let Some(op) = entry.op {
                events.push_back(NetEvent::failure(op, "closed"));
            }
        }
        self.queued_bytes = 0;
        if self.phase != Phase::Closed {
            self.transport.shutdown();
            self.phase = Phase::Closed;
            self.emit_disconnected(events);
        }
    }

    /// Fails everything pending with `message` and closes.
    pub fn fail(&mut self, message: &str, events: &mut EventQueue) {
        if self.phase == Phase::Closed {
            return;
        }
        if let Some(op) = self.connect_op.take() {
            events.push_back(NetEvent::failure(op, message));
        }
        for read in self.reads.drain(..) {
            self.done_timers.extend(read.timer);
            events.push_back(NetEvent::failure(read.op, message));
        }
        for entry in self.writes.drain(..) {
            if let Some(op) = entry.op {
                events.push_back(NetEvent::failure(op, message));
            }
        }
        self.queued_bytes = 0;
        self.phase = Phase::Closed;
        self.emit_disconnected(events);
    }
}

impl crate::net::live_map::Alive for TcpConn {
    fn is_alive(&self) -> bool {
        TcpConn::is_alive(self)
    }
}
