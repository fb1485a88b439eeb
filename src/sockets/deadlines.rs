//! Socket deadlines: connect, read, accept and receive time limits, an HTTP server's timeout
//! sweep, an HTTP client request's limit, a WebSocket connect or closing handshake, and
//! resuming a paused read. Each is a reactor timer (unreferenced: a deadline alone keeps no
//! process alive) mapped to what it ends; [`Net::on_timer`] applies it.

use super::tcp_ops::accept_failure;
use super::{Net, NetContext};
use crate::event::NetEvent;
use crate::reactor::timers::TimerAction;

/// What a timer owned by the network layer ends.
#[derive(Debug, Clone, Copy)]
pub(super) enum Deadline {
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
    /// The interval that applies a WebSocket server's keep-alive settings (stays armed).
    WsSweep(u64),
    /// The time limit of an HTTP client request.
    HttpRequest(u64),
    /// The connect, closing handshake or drain of a WebSocket connection.
    WebSocket(u64),
    /// Reading a TCP or WebSocket connection goes on (it stopped with data left).
    Resume(u64),
    /// A client refused past a connection cap has lingered long enough.
    Refusal(u64),
}

impl Net {
    /// Arms a timer of `seconds` that ends `deadline`; returns the timer id.
    pub(super) fn arm(&mut self, ctx: &mut NetContext, seconds: f64, deadline: Deadline) -> u64 {
        let timer = ctx.ids.next_id();
        ctx.timers
            .add(timer, seconds * 1000.0, false, TimerAction::Net);
        ctx.timers.set_referenced(timer, false);
        self.deadlines.insert(timer, deadline);
        timer
    }

    /// Cancels deadline timer `timer`, if any.
    pub(super) fn disarm(&mut self, ctx: &mut NetContext, timer: Option<u64>) {
        if let Some(timer) = timer {
            ctx.timers.cancel(timer, TimerAction::Net);
            self.deadlines.remove(&timer);
        }
    }

    /// A network timer fired; true if it was one of ours.
    pub fn on_timer(&mut self, ctx: &mut NetContext, timer: u64) -> bool {
        let Some(deadline) = self.deadlines.get(&timer).copied() else {
            return false;
        };
        if let Deadline::HttpSweep(server) = deadline {
            self.http
                .check_timeouts(&mut self.table, server, &mut self.events);
            self.ws_take_upgrades(ctx);
            return true;
        }
        if let Deadline::WsSweep(server) = deadline {
            self.ws_keepalive(ctx, server);
            return true;
        }
        self.deadlines.remove(&timer);
        match deadline {
            Deadline::HttpSweep(_) | Deadline::WsSweep(_) => {}
            Deadline::WebSocket(id) => self.ws_timed_out(ctx, id),
            Deadline::Resume(id) => self.resume_reading(ctx, id),
            Deadline::Refusal(id) => self.refusals.expire(&mut self.table, id),
            Deadline::HttpRequest(op) => {
                if let Some((conn, _)) = self.http_ops.remove(&op) {
                    if self.cancel_lookup(conn).is_some() {
                        self.events.push_back(NetEvent::failure(op, "timeout"));
                    } else {
                        self.http_client
                            .time_out(&mut self.table, conn, op, &mut self.events);
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
}
