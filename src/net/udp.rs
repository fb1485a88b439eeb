//! A UDP socket on the reactor: bound (receiving datagrams from anyone) and optionally connected
//! to one peer. Received datagrams queue (bounded) until a receive request takes them; each
//! request gets one datagram with its sender's address. Sends that hit `WouldBlock` queue until
//! the socket is writable.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;

use super::describe_io_error;
use super::error::SocketError;
use crate::event::{EventQueue, NetEvent, Val};

/// Datagrams kept while nobody asks for them; older ones are dropped beyond this (as the kernel
/// would drop them from a full buffer).
const QUEUE_LIMIT: usize = 1024;
/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_536;

struct Receive {
    op: u64,
    max: usize,
    timer: Option<u64>,
}

struct Send {
    data: Vec<u8>,
    to: Option<SocketAddr>,
    op: u64,
}

/// A UDP socket and its queues.
pub struct UdpSock {
    pub socket: UdpSocket,
    /// Receive timeout in seconds.
    pub timeout: Option<f64>,
    pub referenced: bool,
    peer: Option<SocketAddr>,
    received: VecDeque<(Vec<u8>, SocketAddr)>,
    receives: VecDeque<Receive>,
    /// Timers of finished receives, not yet cancelled by the owner.
    done_timers: Vec<u64>,
    sends: VecDeque<Send>,
    closed: bool,
}

impl UdpSock {
    /// Binds to `bind`, connects to `peer` if given, and sets `SO_BROADCAST` if asked.
    pub fn open(
        bind: SocketAddr,
        peer: Option<SocketAddr>,
        broadcast: bool,
    ) -> Result<UdpSock, SocketError> {
        let socket = UdpSocket::bind(bind).map_err(|source| SocketError::UdpBind {
            address: bind,
            source,
        })?;
        if broadcast {
            socket.set_broadcast(true).map_err(SocketError::Broadcast)?;
        }
        if let Some(peer) = peer {
            socket
                .connect(peer)
                .map_err(|source| SocketError::UdpConnect { peer, source })?;
        }
        Ok(UdpSock {
            socket,
            timeout: None,
            referenced: true,
            peer,
            received: VecDeque::new(),
            receives: VecDeque::new(),
            done_timers: Vec::new(),
            sends: VecDeque::new(),
            closed: false,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.socket
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// True while the socket keeps the process alive.
    pub fn is_alive(&self) -> bool {
        self.referenced && !self.closed
    }

    /// True once closed.
    pub fn is_finished(&self) -> bool {
        self.closed
    }

    /// Timeout timers of receives that finished since the last call, for the owner to cancel.
    pub fn take_done_timers(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.done_timers)
    }

    /// Timers of waiting receives.
    pub fn read_timers(&self) -> impl Iterator<Item = u64> + '_ {
        self.receives.iter().filter_map(|receive| receive.timer)
    }

    /// Handles readiness.
    pub fn on_ready(&mut self, readable: bool, writable: bool, events: &mut EventQueue) {
        if writable {
            self.flush(events);
        }
        if readable {
            self.drain_socket(events);
        }
        self.serve(events);
    }

    /// Sends a datagram to `to` (or the connected peer).
    pub fn send(
        &mut self,
        data: Vec<u8>,
        to: Option<SocketAddr>,
        op: u64,
        events: &mut EventQueue,
    ) {
        if self.closed {
            events.push_back(NetEvent::failure(op, "closed"));
            return;
        }
        if to.is_none() && self.peer.is_none() {
            events.push_back(NetEvent::failure(
                op,
                "no destination: give host and port, or use udp_connect",
            ));
            return;
        }
        self.sends.push_back(Send { data, to, op });
        self.flush(events);
    }

    fn flush(&mut self, events: &mut EventQueue) {
        while let Some(send) = self.sends.front() {
            let result = match send.to {
                Some(to) if Some(to) != self.peer => self.socket.send_to(&send.data, to),
                _ => self.socket.send(&send.data),
            };
            match result {
                Ok(n) => {
                    let target = send
                        .to
                        .or(self.peer)
                        .map(|a| a.to_string())
                        .unwrap_or_default();
                    events.push_back(NetEvent::success(
                        send.op,
                        Val::Int(n as i64),
                        format!("Sent {n} bytes to {target}"),
                    ));
                    self.sends.pop_front();
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    events.push_back(NetEvent::failure(send.op, describe_io_error(&error)));
                    self.sends.pop_front();
                }
            }
        }
    }

    fn drain_socket(&mut self, events: &mut EventQueue) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    if self.received.len() >= QUEUE_LIMIT {
                        self.received.pop_front();
                    }
                    self.received.push_back((buf[..n].to_vec(), from));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    // ICMP errors (port unreachable) on a connected socket: fail one receive.
                    if let Some(receive) = self.receives.pop_front() {
                        self.done_timers.extend(receive.timer);
                        events.push_back(NetEvent::failure(receive.op, describe_io_error(&error)));
                    }
                }
            }
        }
    }

    /// Waits for one datagram of at most `max` bytes (longer ones are truncated).
    pub fn receive(&mut self, op: u64, max: usize, timer: Option<u64>, events: &mut EventQueue) {
        if self.closed {
            events.push_back(NetEvent::failure(op, "closed"));
            return;
        }
        self.receives.push_back(Receive { op, max, timer });
        self.drain_socket(events);
        self.serve(events);
    }

    fn serve(&mut self, events: &mut EventQueue) {
        while !self.receives.is_empty() && !self.received.is_empty() {
            let (Some(receive), Some((mut data, from))) =
                (self.receives.pop_front(), self.received.pop_front())
            else {
                break;
            };
            self.done_timers.extend(receive.timer);
            data.truncate(receive.max.max(1));
            let message = format!("Received {} bytes from {from}", data.len());
            events.push_back(NetEvent::Complete {
                op: receive.op,
                values: vec![
                    Val::Bool(true),
                    Val::Bytes(data),
                    Val::Text(message),
                    Val::Text(from.ip().to_string()),
                    Val::Int(i64::from(from.port())),
                ],
            });
        }
    }

    /// Ends a receive with "timeout".
    pub fn time_out_read(&mut self, op: u64, events: &mut EventQueue) {
        if let Some(index) = self.receives.iter().position(|receive| receive.op == op)
            && let Some(receive) = self.receives.remove(index)
        {
            self.done_timers.extend(receive.timer);
            events.push_back(NetEvent::failure(op, "timeout"));
        }
    }

    /// Closes: waiting receives and sends fail with "closed".
    pub fn close(&mut self, events: &mut EventQueue) {
        if self.closed {
            return;
        }
        self.closed = true;
        for receive in self.receives.drain(..) {
            self.done_timers.extend(receive.timer);
            events.push_back(NetEvent::failure(receive.op, "closed"));
        }
        for send in self.sends.drain(..) {
            events.push_back(NetEvent::failure(send.op, "closed"));
        }
    }
}

impl crate::net::live_map::Alive for UdpSock {
    fn is_alive(&self) -> bool {
        UdpSock::is_alive(self)
    }
}
