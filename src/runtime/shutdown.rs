//! Graceful shutdown on SIGTERM/SIGINT: listeners close first, then the loop keeps running for
//! at most [`DRAIN_LIMIT`] so that HTTP responses in flight (a handler still sleeping or
//! waiting on the network) are sent and WebSocket closing handshakes finish; then the process
//! exits with 128 + the signal (143/130) after flushing output and closing the Lua state
//! (which closes, and so flushes, every file a script left open). The callback running when
//! the signal arrived is stopped where it is (`src/lua/interrupt.rs`); no new main chunk or
//! REPL line starts. A second signal ends the process at once.

use std::time::{Duration, Instant};

use super::Runtime;
use crate::lua::interrupt;

/// How long in-flight responses and WebSocket closes may take after the signal.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// A shutdown in progress.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shutdown {
    pub signal: i32,
    pub deadline: Instant,
}

impl Runtime {
    /// Starts the graceful shutdown for `signal` (once).
    pub(super) fn begin_shutdown(&mut self, signal: i32) {
        if self.shutdown.is_some() {
            return;
        }
        self.debug_log(format_args!("signal {signal}, shutting down"));
        if self.repl.is_some() {
            // Interactive: nothing is drained.
            self.exit = Some(128 + signal);
            return;
        }
        interrupt::begin_drain(DRAIN_LIMIT);
        self.shutdown = Some(Shutdown {
            signal,
            deadline: Instant::now() + DRAIN_LIMIT,
        });
        self.steps.clear();
        self.foreground = None;
        let mut reactor = self.reactor.borrow_mut();
        let (net, mut ctx) = reactor.net();
        net.begin_shutdown(&mut ctx);
    }

    /// Ends the run once the drain is over (nothing owed any more, or its time is up).
    pub(super) fn check_shutdown(&mut self) {
        let Some(shutdown) = self.shutdown else {
            return;
        };
        let draining = self.reactor.borrow().net.is_draining();
        if !draining || Instant::now() >= shutdown.deadline {
            if draining {
                self.debug_log(format_args!("drain time is up, exiting"));
            }
            self.exit = Some(128 + shutdown.signal);
        }
    }

    /// The longest the poller may sleep while draining.
    pub(super) fn drain_budget(&self, timeout: Option<Duration>) -> Option<Duration> {
        match self.shutdown {
            None => timeout,
            Some(shutdown) => {
                let left = shutdown.deadline.saturating_duration_since(Instant::now());
                Some(timeout.map_or(left, |timeout| timeout.min(left)))
            }
        }
    }
}
