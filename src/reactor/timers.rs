//! Timers by id: one-shot timeouts, drift-free intervals and "resume this waiting coroutine"
//! timers, on top of the [`Wheel`]. Owns the monotonic clock the reactor measures ticks with and
//! the bookkeeping the process lifetime needs (how many referenced timers are alive).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::ids::IdHasher;
use super::wheel::{EntryKey, MAX_DELAY_MS, Wheel};

/// What the runtime does when a timer fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerAction {
    /// Run the Lua callback stored under the timer's id in a fresh task coroutine.
    Callback,
    /// Resume the coroutine waiting under the timer's id (`_PY.sleep`).
    Resume,
    /// A network deadline (connect, read, accept timeout), handled by the network layer.
    Net,
}

/// A fired timer handed to the runtime by [`Timers::claim`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fired {
    pub id: u64,
    pub action: TimerAction,
    /// True for the last firing of a timer (every timeout); false for an interval tick.
    pub finished: bool,
}

/// Marks an interval in the value stored in the wheel (ids stay below 2^53), so expiring a
/// one-shot timer needs no map lookup at all.
const INTERVAL_BIT: u64 = 1 << 63;

/// A live timer. Kept small (12 bytes): a burst of a million `setTimeout(fn, 0)` holds a
/// million of these in `by_id`, and the memory that map touches was most of the burst's cost.
struct Timer {
    /// The wheel entry; stale (already expired) while a fired timer waits to be claimed.
    key: EntryKey,
    action: TimerAction,
    referenced: bool,
    /// An interval, whose grid is in `Timers::grids`.
    interval: bool,
}

const _: () = assert!(std::mem::size_of::<Timer>() <= 12);

/// An interval's grid: its next deadline (tick) and its period (ms).
struct Grid {
    deadline: u64,
    period: u64,
}

/// All live timers of the process.
pub struct Timers {
    wheel: Wheel,
    by_id: HashMap<u64, Timer, IdHasher>,
    /// The grids of the intervals in `by_id`.
    grids: HashMap<u64, Grid, IdHasher>,
    started: Instant,
    referenced: usize,
    /// Script (`setInterval`) intervals.
    intervals: usize,
    /// Script (`setTimeout`) timeouts.
    timeouts: usize,
}

impl Timers {
    /// No timers; the clock starts now.
    pub fn new() -> Self {
        Timers {
            wheel: Wheel::new(),
            by_id: HashMap::default(),
            grids: HashMap::default(),
            started: Instant::now(),
            referenced: 0,
            intervals: 0,
            timeouts: 0,
        }
    }

    /// Starts timer `id`, firing after `delay_ms`, then every `delay_ms` when `repeat` is set.
    /// The Lua layer validates delays with clear messages; here NaN and negative delays count
    /// as 0 and delays beyond [`MAX_DELAY_MS`] are clamped to it.
    pub fn add(&mut self, id: u64, delay_ms: f64, repeat: bool, action: TimerAction) {
        let delay_ms = if delay_ms.is_nan() {
            0.0
        } else {
            delay_ms.clamp(0.0, MAX_DELAY_MS as f64)
        };
        let delay_ns = (delay_ms * 1e6) as u64;
        let deadline = if delay_ns == 0 {
            self.wheel.elapsed()
        } else {
            // Round up so a timer never fires early.
            (self.now_ns() + delay_ns).div_ceil(1_000_000)
        };
        let value = if repeat { id | INTERVAL_BIT } else { id };
        let key = self.wheel.insert(deadline, value);
        self.by_id.insert(
            id,
            Timer {
                key,
                action,
                referenced: true,
                interval: repeat,
            },
        );
        if repeat {
            let period = (delay_ms.ceil() as u64).max(1);
            self.grids.insert(id, Grid { deadline, period });
        }
        self.referenced += 1;
        if action == TimerAction::Callback {
            if repeat {
                self.intervals += 1;
            } else {
                self.timeouts += 1;
            }
        }
    }

    /// Cancels timer `id` if it runs `action`; true if it was pending (or fired and not yet
    /// run). Scripts can only cancel callback timers, never another coroutine's sleep.
    pub fn cancel(&mut self, id: u64, action: TimerAction) -> bool {
        if self
            .by_id
            .get(&id)
            .is_none_or(|timer| timer.action != action)
        {
            return false;
        }
        let Some(timer) = self.by_id.remove(&id) else {
            return false;
        };
        // A fired, unclaimed timer's key is stale; removing it is a no-op.
        self.wheel.remove(timer.key);
        self.forget(id, &timer);
        true
    }

    /// Takes timer `id` into or out of the alive count; false if there is no such timer.
    pub fn set_referenced(&mut self, id: u64, referenced: bool) -> bool {
        let Some(timer) = self.by_id.get_mut(&id) else {
            return false;
        };
        if timer.referenced != referenced {
            timer.referenced = referenced;
            if referenced {
                self.referenced += 1;
            } else {
                self.referenced -= 1;
            }
        }
        true
    }

    /// Number of timers that keep the process alive.
    pub fn referenced(&self) -> usize {
        self.referenced
    }

    /// True if any script timeout (`setTimeout`) is pending; sleeps and network deadlines do
    /// not count.
    pub fn has_timeouts(&self) -> bool {
        self.timeouts > 0
    }

    /// True if any script interval is active.
    pub fn has_intervals(&self) -> bool {
        self.intervals > 0
    }

    /// Nanoseconds since the clock started.
    pub fn now_ns(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    /// How long the poller may sleep before the next timer is due (`None`: no timer).
    pub fn time_to_next(&self) -> Option<Duration> {
        let wakeup_ns = self.wheel.next_wakeup()?.saturating_mul(1_000_000);
        Some(Duration::from_nanos(
            wakeup_ns.saturating_sub(self.now_ns()),
        ))
    }

    /// Collects the timers due now, in firing order, as tokens for [`Timers::claim`].
    /// Intervals are rescheduled on their grid at once (so `clearInterval` from the callback
    /// cancels the next tick).
    pub fn expire(&mut self, out: &mut Vec<u64>) {
        let now = self.now_ns() / 1_000_000;
        let start = out.len();
        self.wheel.expire(now, out);
        for &value in &out[start..] {
            if value & INTERVAL_BIT == 0 {
                continue;
            }
            let id = value & !INTERVAL_BIT;
            let (Some(timer), Some(grid)) = (self.by_id.get_mut(&id), self.grids.get_mut(&id))
            else {
                continue;
            };
            let mut next = grid.deadline + grid.period;
            if next <= now {
                // Skip the ticks missed while the loop was busy instead of bursting them.
                next += grid.period * ((now - next) / grid.period + 1);
            }
            grid.deadline = next;
            timer.key = self.wheel.insert(next, value);
        }
    }

    /// Claims a timer returned by `expire` just before it runs; `None` if it was cancelled
    /// meanwhile (by an earlier callback of the same batch).
    pub fn claim(&mut self, token: u64) -> Option<Fired> {
        let id = token & !INTERVAL_BIT;
        if token & INTERVAL_BIT != 0 {
            let timer = self.by_id.get(&id)?;
            return Some(Fired {
                id,
                action: timer.action,
                finished: false,
            });
        }
        let timer = self.by_id.remove(&id)?;
        self.forget(id, &timer);
        Some(Fired {
            id,
            action: timer.action,
            finished: true,
        })
    }

    /// Takes the removed timer `id` out of the counts (and its grid away).
    fn forget(&mut self, id: u64, timer: &Timer) {
        if timer.referenced {
            self.referenced -= 1;
        }
        if timer.interval {
            self.grids.remove(&id);
        }
        if timer.action == TimerAction::Callback {
            if timer.interval {
                self.intervals -= 1;
            } else {
                self.timeouts -= 1;
            }
        }
    }
}

impl Default for Timers {
    fn default() -> Self {
        Self::new()
    }
}
