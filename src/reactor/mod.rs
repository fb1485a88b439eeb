//! The reactor: one `mio::Poll` on the main thread, the timer set, the signal self-pipe, the
//! `Waker` other threads nudge, and the lazy worker pool. It knows nothing about Lua: it turns
//! readiness into [`ReadyEvent`]s and the runtime decides which coroutine to resume.

pub mod ids;
pub mod pool;
pub mod signals;
pub mod timers;
pub mod wheel;

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use ids::IdCounter;
use pool::WorkerPool;
use signals::SignalPipe;
use timers::Timers;

const WAKER: Token = Token(0);
const SIGNALS: Token = Token(1);
const STDIN: Token = Token(2);

/// Default worker-pool size and queue bound.
#[allow(dead_code)] // used from the HTTP issue on
const POOL_THREADS: usize = 4;
#[allow(dead_code)]
const POOL_QUEUE: usize = 64;

/// Something the poller reported, in terms the runtime understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadyEvent {
    /// SIGINT or SIGTERM arrived.
    Signal(i32),
    /// A worker finished a job (collect with [`Reactor::take_pool_results`]).
    PoolResults,
    /// Standard input has data or reached end-of-file.
    Stdin,
}

/// The reactor's state, shared (single-threaded) between the runtime loop and the Lua-facing
/// functions that add timers or, later, sockets.
pub struct Reactor {
    poll: Poll,
    events: Events,
    #[allow(dead_code)] // handed to the worker pool, which starts on first use
    waker: Arc<Waker>,
    signals: SignalPipe,
    pool: Option<WorkerPool>,
    /// Every timer of the process.
    pub timers: Timers,
    /// The id counter shared by all handles.
    pub ids: IdCounter,
}

/// The reactor as the runtime and the Lua bindings hold it.
pub type SharedReactor = Rc<RefCell<Reactor>>;

impl Reactor {
    /// Creates the poller, the waker and the signal pipe.
    pub fn new() -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let signals = SignalPipe::install(poll.registry(), SIGNALS)?;
        Ok(Reactor {
            poll,
            events: Events::with_capacity(256),
            waker,
            signals,
            pool: None,
            timers: Timers::new(),
            ids: IdCounter::default(),
        })
    }

    /// Handles that keep the process alive: referenced timers and pending pool jobs.
    pub fn alive(&self) -> usize {
        self.timers.referenced() + self.pool.as_ref().map_or(0, WorkerPool::in_flight)
    }

    /// Takes handle `id` out of (`referenced = false`) or back into the alive count.
    pub fn set_referenced(&mut self, id: u64, referenced: bool) -> bool {
        self.timers.set_referenced(id, referenced)
    }

    /// The worker pool, started lazily on first use.
    #[allow(dead_code)] // the HTTP issue submits the first jobs
    pub fn pool(&mut self) -> &mut WorkerPool {
        let waker = &self.waker;
        self.pool
            .get_or_insert_with(|| WorkerPool::new(POOL_THREADS, POOL_QUEUE, Arc::clone(waker)))
    }

    /// Results of finished pool jobs.
    pub fn take_pool_results(&mut self) -> Vec<(u64, pool::JobOutput)> {
        self.pool
            .as_mut()
            .map(WorkerPool::take_results)
            .unwrap_or_default()
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

    /// Sleeps until an event arrives or `timeout` passes; appends what happened to `out`.
    pub fn wait(&mut self, timeout: Option<Duration>, out: &mut Vec<ReadyEvent>) -> io::Result<()> {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(error) => return Err(error),
        }
        for event in self.events.iter() {
            match event.token() {
                WAKER => out.push(ReadyEvent::PoolResults),
                SIGNALS => {
                    if let Some(signal) = self.signals.take() {
                        out.push(ReadyEvent::Signal(signal));
                    }
                }
                STDIN => out.push(ReadyEvent::Stdin),
                _ => {}
            }
        }
        Ok(())
    }
}
