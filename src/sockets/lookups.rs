//! The first half of the one dial path, with its one pending-lookup map. A host that is a
//! literal IP (or `localhost`) goes on at once; any other name is looked up on the worker pool
//! (getaddrinfo blocks, and the reactor never waits for DNS) while what waits for the answer —
//! a TCP connect, an HTTP client connection, a WebSocket connect, a datagram, or a bare
//! `core.resolve` — is kept here by lookup job. The answer continues each the same way the
//! literal address would have; the streams then open through `net::connect`.

use std::net::SocketAddr;

use super::{ConnectOptions, Net, NetContext};
use crate::event::{NetEvent, Val};
use crate::http::client::ClientRequest;
use crate::net::resolve::{self, LookupError};
use crate::reactor::pool::JobOutput;
use crate::ws::client::PendingConnect;

/// What waits for a name lookup.
pub(super) enum Waiting {
    /// `tcp_connect` operation `op` to `host`.
    Tcp {
        op: u64,
        host: String,
        options: ConnectOptions,
    },
    /// HTTP client request `op` on a new connection (the lookup job is the connection's id).
    Http { op: u64, request: ClientRequest },
    /// A WebSocket client's connect (the lookup job is the client's id) and its deadline.
    WebSocket {
        pending: Box<PendingConnect>,
        timer: u64,
    },
    /// A datagram for UDP socket `socket`, sent by operation `op`.
    Datagram { socket: u64, data: Vec<u8>, op: u64 },
    /// `core.resolve` operation `op`: completes with the address as text.
    Resolve { op: u64 },
}

/// How many lookups wait, by what waits ([`Net::activity`]).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Waiters {
    pub tcp: usize,
    pub http: usize,
    pub websocket: usize,
    pub udp: usize,
}

impl Net {
    /// Finds the address of `host:port` for `waiting`, under lookup job `job`: at once for a
    /// literal, else on the worker pool. False if the lookup could not even start (the waiter
    /// has been failed).
    pub(super) fn dial(
        &mut self,
        ctx: &mut NetContext,
        job: u64,
        host: &str,
        port: u16,
        waiting: Waiting,
    ) -> bool {
        if let Some(address) = resolve::literal(host, port) {
            self.resume_waiting(ctx, job, Ok(address), waiting);
            return true;
        }
        let name = host.to_owned();
        let submitted = ctx.pool.submit(job, move || {
            Box::new(resolve::lookup(&name, port)) as JobOutput
        });
        match submitted {
            Ok(()) => {
                self.lookups.insert(job, waiting);
                true
            }
            Err(error) => {
                self.fail_waiting(ctx, job, error.to_string(), waiting);
                false
            }
        }
    }

    /// Looks `host` up for `core.resolve`: `op` completes with `(true, ip, msg)` or
    /// `(false, nil, "cannot resolve host '...': ...")`.
    pub fn lookup(&mut self, ctx: &mut NetContext, host: &str, port: u16, op: u64) {
        let job = ctx.ids.next_id();
        self.dial(ctx, job, host, port, Waiting::Resolve { op });
    }

    /// Lookup job `job` finished; false if nothing waited for it (it was cancelled).
    pub(super) fn on_lookup(
        &mut self,
        ctx: &mut NetContext,
        job: u64,
        answer: Result<SocketAddr, LookupError>,
    ) -> bool {
        let Some(waiting) = self.lookups.remove(&job) else {
            return false;
        };
        self.resume_waiting(ctx, job, answer, waiting);
        true
    }

    /// Is a lookup for a WebSocket client or HTTP connection `job` in progress?
    pub(super) fn is_looking_up(&self, job: u64) -> bool {
        self.lookups.contains_key(&job)
    }

    /// Forgets lookup `job` (its waiter gave up); what waited, if anything.
    pub(super) fn cancel_lookup(&mut self, job: u64) -> Option<Waiting> {
        self.lookups.remove(&job)
    }

    /// How many lookups wait, by kind.
    pub(super) fn waiters(&self) -> Waiters {
        let mut waiters = Waiters::default();
        for waiting in self.lookups.values() {
            match waiting {
                Waiting::Tcp { .. } => waiters.tcp += 1,
                Waiting::Http { .. } => waiters.http += 1,
                Waiting::WebSocket { .. } => waiters.websocket += 1,
                Waiting::Datagram { .. } => waiters.udp += 1,
                Waiting::Resolve { .. } => {}
            }
        }
        waiters
    }

    /// Goes on with what waited, now that its address is known (or not).
    fn resume_waiting(
        &mut self,
        ctx: &mut NetContext,
        job: u64,
        answer: Result<SocketAddr, LookupError>,
        waiting: Waiting,
    ) {
        let address = match answer {
            Ok(address) => address,
            Err(error) => return self.fail_waiting(ctx, job, error.to_string(), waiting),
        };
        match waiting {
            Waiting::Tcp { op, host, options } => {
                self.open_connection(ctx, job, &host, address, options, op)
            }
            Waiting::Http { op, request } => self.http_client.connect(
                &mut self.table,
                job,
                address,
                op,
                request,
                &mut self.events,
            ),
            Waiting::WebSocket { pending, timer } => {
                self.ws_open(ctx, job, address, *pending, timer)
            }
            Waiting::Datagram { socket, data, op } => {
                self.udp_send(ctx, socket, data, Some(address), op)
            }
            Waiting::Resolve { op } => self.events.push_back(NetEvent::success(
                op,
                Val::Text(address.ip().to_string()),
                format!("Resolved to {}", address.ip()),
            )),
        }
    }

    /// Fails what waited with `message`, as its kind reports failures.
    fn fail_waiting(&mut self, ctx: &mut NetContext, job: u64, message: String, waiting: Waiting) {
        match waiting {
            Waiting::Tcp { op, .. } | Waiting::Datagram { op, .. } | Waiting::Resolve { op } => {
                self.events.push_back(NetEvent::failure(op, message))
            }
            Waiting::Http { op, .. } => self.http_failed(ctx, op, message),
            Waiting::WebSocket { timer, .. } => {
                self.disarm(ctx, Some(timer));
                self.ws_error(job, message);
            }
        }
    }
}
