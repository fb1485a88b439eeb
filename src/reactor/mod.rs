//! The reactor: one `mio::Poll` on the main thread, the timer set, the signal self-pipe, the
//! `Waker` other threads nudge, and the lazy worker pool. It knows nothing about Lua nor about
//! what a socket is: it reports readiness, due timers, signals and finished jobs, handing
//! socket readiness to the [`SocketLayer`] above it (`src/sockets/`) and the rest to the
//! runtime as [`ReadyEvent`]s.

pub mod duration;
pub mod ids;
pub mod pool;
pub mod signals;
pub mod timers;
pub mod wheel;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::event::{EventQueue, NetEvent};
use ids::{IdCounter, id_of};
use pool::WorkerPool;
use signals::SignalPipe;
use timers::Timers;

const WAKER: Token = Token(0);
const SIGNALS: Token = Token(1);
const STDIN: Token = Token(2);

/// Default worker-pool size and queue bound.
const POOL_THREADS: usize = 4;
const POOL_QUEUE: usize = 64;

/// Something the poller reported, in terms the runtime understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadyEvent {
    /// SIGINT or SIGTERM arrived.
    Signal(i32),
    /// Standard input has data or reached end-of-file.
    Stdin,
}

/// The reactor's borrowed parts that socket operations need.
pub struct NetContext<'a> {
    /// The id counter shared by all handles.
    pub ids: &'a mut IdCounter,
    /// Deadlines are timers with [`timers::TimerAction::Net`].
    pub timers: &'a mut Timers,
    /// Name lookups and blocking requests run here.
    pub pool: &'a mut WorkerPool,
}

/// The layer that owns the sockets, as the reactor sees it: it is told about readiness, its
/// deadline timers and finished pool jobs, and keeps the queue of events for Lua.
pub trait SocketLayer {
    /// The layer, registering its sockets with `registry` (a handle on the reactor's poller).
    fn new(registry: mio::Registry) -> Self;
    /// Socket `id` is ready.
    fn on_ready(
        &mut self,
        ctx: &mut NetContext,
        id: u64,
        readable: bool,
        writable: bool,
        hangup: bool,
    );
    /// A timer with [`timers::TimerAction::Net`] fired; true if it was one of this layer's.
    fn on_timer(&mut self, ctx: &mut NetContext, timer: u64) -> bool;
    /// Pool job `job` finished; true if it was one of this layer's.
    fn on_job_done(&mut self, ctx: &mut NetContext, job: u64, output: pool::JobOutput) -> bool;
    /// Does any socket or operation keep the process alive?
    fn is_alive(&self) -> bool;
    /// `_PY.unref` / `_PY.ref` for a socket; false if `id` is none of this layer's.
    fn set_referenced(&mut self, id: u64, referenced: bool) -> bool;
    /// Finished operations and events waiting to reach Lua.
    fn events(&mut self) -> &mut EventQueue;
    /// How many events wait to reach Lua.
    fn pending_events(&self) -> usize;
}

/// The reactor's state, shared (single-threaded) between the runtime loop and the Lua-facing
/// functions that add timers or sockets; `S` is the socket layer on top of it.
pub struct Reactor<S> {
    poll: Poll,
    events: Events,
    signals: SignalPipe,
    /// Threads start on the first submitted job.
    pool: WorkerPool,
    /// Every timer of the process.
    pub timers: Timers,
    /// The id counter shared by all handles.
    pub ids: IdCounter,
    /// Every socket of the process.
    pub net: S,
    /// Events seen while a blocking call polled on its own, for the main loop.
    deferred: Vec<ReadyEvent>,
    /// Socket readiness of the current poll (kept to reuse its allocation).
    ready_sockets: Vec<(u64, bool, bool, bool)>,
}

impl<S: SocketLayer> Reactor<S> {
    /// Creates the poller, the waker and the signal pipe.
    pub fn new() -> io::Result<Reactor<S>> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let signals = SignalPipe::install(poll.registry(), SIGNALS)?;
        let net = S::new(poll.registry().try_clone()?);
        Ok(Reactor {
            poll,
            events: Events::with_capacity(256),
            signals,
            pool: WorkerPool::new(POOL_THREADS, POOL_QUEUE, waker),
            timers: Timers::new(),
            ids: IdCounter::default(),
            net,
            deferred: Vec::new(),
            ready_sockets: Vec::new(),
        })
    }

    /// Does anything keep the process alive: referenced timers, sockets and servers, pending
    /// pool jobs, finished operations not yet handed to Lua? Asked once per loop turn, so it
    /// answers from counters only (the socket floor counts its live sockets as they change: a
    /// turn costs the same with 10 or 10,000 open connections).
    pub fn is_alive(&self) -> bool {
        self.timers.referenced() > 0
            || self.pool.in_flight() > 0
            || self.net.pending_events() > 0
            || self.net.is_alive()
    }

    /// Takes handle `id` out of (`referenced = false`) or back into the alive count.
    pub fn set_referenced(&mut self, id: u64, referenced: bool) -> bool {
        self.timers.set_referenced(id, referenced) || self.net.set_referenced(id, referenced)
    }

    /// The socket table together with the reactor parts its operations need.
    pub fn net(&mut self) -> (&mut S, NetContext<'_>) {
        let context = NetContext {
            ids: &mut self.ids,
            timers: &mut self.timers,
            pool: &mut self.pool,
        };
        (&mut self.net, context)
    }

    /// A network deadline timer fired.
    pub fn net_timer(&mut self, timer: u64) {
        let (net, mut ctx) = self.net();
        net.on_timer(&mut ctx, timer);
    }

    /// Collects finished pool jobs: name lookups continue their connects here.
    fn collect_pool_results(&mut self) {
        let results = self.pool.take_results();
        let (net, mut ctx) = self.net();
        for (job, output) in results {
            net.on_job_done(&mut ctx, job, output);
        }
    }

    /// A signal that arrived while no one polled (e.g. during a blocking call), if any.
    pub fn pending_signal(&mut self) -> Option<i32> {
        self.signals.take()
    }

    /// Registers standard input (a pipe, terminal or socket) for readability.
    pub fn register_stdin(&mut self, fd: i32) -> io::Result<()> {
        self.poll
            .registry()
            .register(&mut SourceFd(&fd), STDIN, Interest::READABLE)
    }

    /// Removes standard input from the poller.
    pub fn deregister_stdin(&mut self, fd: i32) {
        let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
    }

    /// Sleeps until an event arrives or `timeout` passes. Socket readiness is handled here
    /// (finished operations land in `net.events`); what concerns the runtime is appended to
    /// `out`.
    pub fn wait(&mut self, timeout: Option<Duration>, out: &mut Vec<ReadyEvent>) -> io::Result<()> {
        out.append(&mut self.deferred);
        let timeout = if out.is_empty() && self.net.pending_events() == 0 {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        self.poll_once(timeout, out)
    }

    /// One poll of at most `timeout`, handling socket readiness.
    fn poll_once(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<ReadyEvent>,
    ) -> io::Result<()> {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(error) => return Err(error),
        }
        let mut sockets = std::mem::take(&mut self.ready_sockets);
        for event in self.events.iter() {
            match event.token() {
                WAKER => {}
                SIGNALS => {
                    if let Some(signal) = self.signals.take() {
                        out.push(ReadyEvent::Signal(signal));
                    }
                }
                STDIN => out.push(ReadyEvent::Stdin),
                token => {
                    if let Some(id) = id_of(token) {
                        let hangup = event.is_read_closed() || event.is_error();
                        let readable = event.is_readable() || hangup;
                        let writable =
                            event.is_writable() || event.is_write_closed() || event.is_error();
                        sockets.push((id, readable, writable, hangup));
                    }
                }
            }
        }
        self.collect_pool_results();
        let (net, mut ctx) = self.net();
        for &(id, readable, writable, hangup) in &sockets {
            net.on_ready(&mut ctx, id, readable, writable, hangup);
        }
        sockets.clear();
        self.ready_sockets = sockets;
        Ok(())
    }

    /// Polls until operation `op` finishes or `timeout` passes, for waiting functions called
    /// where the coroutine cannot yield. Only sockets make progress meanwhile (no Lua runs);
    /// other events are kept for the main loop. `None` on timeout.
    pub fn block_on(&mut self, op: u64, timeout: Option<Duration>) -> Option<NetEvent> {
        let deadline = timeout.map(|limit| std::time::Instant::now() + limit);
        let mut others = Vec::new();
        loop {
            let events = self.net.events();
            if let Some(index) = events.iter().position(
                |event| matches!(event, NetEvent::Complete { op: done, .. } if *done == op),
            ) {
                let done = events.remove(index);
                self.deferred.append(&mut others);
                return done;
            }
            let remaining = match deadline {
                Some(deadline) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        self.deferred.append(&mut others);
                        return None;
                    }
                    Some(deadline - now)
                }
                None => None,
            };
            // Other operations' results queue up in `net.events` meanwhile; they are for the
            // main loop and must not cut the sleep short (that would spin).
            let mut seen = Vec::new();
            if self.poll_once(remaining, &mut seen).is_err() {
                self.deferred.append(&mut others);
                return None;
            }
            let interrupted = seen
                .iter()
                .any(|event| matches!(event, ReadyEvent::Signal(_)));
            others.extend(seen);
            if interrupted {
                self.deferred.append(&mut others);
                return None;
            }
        }
    }
}
