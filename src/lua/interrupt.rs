//! Interrupting Lua that never returns to the loop: a `while true do end` callback must still
//! give way to SIGINT/SIGTERM and to the deadline of `--run-for -N`.
//!
//! The runtime marks the task coroutine it resumes as *running*. A signal (or the deadline's
//! SIGALRM) records the reason and arms a count hook in that coroutine, from the signal handler
//! (`lua_sethook` is async-signal-safe; the standard `lua` program does the same). The hook
//! yields the coroutine back to the runtime where it can (so `pcall` cannot swallow it), and
//! raises the error `interrupted` where it cannot; either way the runtime then shuts down as
//! for an idle signal (status 130/143, or 0 at the `--run-for` deadline). A signal's shutdown
//! is graceful (`src/runtime/shutdown.rs`): once the runtime has taken note of it
//! ([`begin_drain`]), callbacks resumed to finish in-flight work are no longer interrupted,
//! until the drain's own time is up.
//!
//! The same hook is the callback watchdog (`--callback-timeout S`): while it is on, every resume
//! of a task arms a CPU-time timer (`ITIMER_VIRTUAL`, SIGVTALRM); a callback that computes for
//! longer gets the error `callback timeout: ...` raised inside it, once per budget used up (the
//! loop goes on, the next callback gets a fresh budget). Time a callback spends suspended (sleeping, waiting on a
//! socket) does not count.
//!
//! Last resorts, for code the hook cannot reach (a loop in a nested coroutine that was already
//! running, a long call in C): a second signal ends the process at once, and so does a grace
//! period of [`GRACE`] after the first request.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU64, Ordering};
use std::time::Duration;

use mlua::ffi::{self, lua_Debug, lua_State};

/// How long an interrupt may take to reach a safe point before the process just exits.
pub const GRACE: Duration = Duration::from_secs(3);

/// The reason recorded for the `--run-for` deadline (signals record their number).
const DEADLINE: i32 = -1;

/// The callback watchdog's budget in microseconds of CPU time per resume (0: off).
static CALLBACK_BUDGET_US: AtomicU64 = AtomicU64::new(0);
/// The running callback used up its budget.
static OVERRUN: AtomicBool = AtomicBool::new(false);

/// The coroutine the runtime is resuming now (null: none, the loop is in Rust).
static RUNNING: AtomicPtr<lua_State> = AtomicPtr::new(std::ptr::null_mut());
/// Why Lua is being interrupted: 0 none, a signal number, or [`DEADLINE`].
static REASON: AtomicI32 = AtomicI32::new(0);
/// The runtime is draining after a signal: resumes are not interrupted.
static DRAINING: AtomicBool = AtomicBool::new(false);
/// The interrupt hook stopped the task being resumed (it yielded or raised `interrupted`).
static HOOKED: AtomicBool = AtomicBool::new(false);

/// Why the runtime was asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGINT or SIGTERM.
    Signal(i32),
    /// The `--run-for -N` deadline passed.
    Deadline,
}

/// Marks `state` as the running task coroutine until the guard drops.
pub struct RunningGuard {
    previous: *mut lua_State,
    state: *mut lua_State,
    /// The watchdog timer was armed for this resume.
    watched: bool,
}

impl RunningGuard {
    /// `thread_pointer` is `Thread::to_pointer()` of the coroutine about to be resumed.
    pub fn enter(thread_pointer: *const std::ffi::c_void) -> RunningGuard {
        let state = thread_pointer as *mut lua_State;
        let previous = RUNNING.swap(state, Ordering::SeqCst);
        if REASON.load(Ordering::SeqCst) != 0 && !DRAINING.load(Ordering::SeqCst) {
            // SAFETY: `state` is a live coroutine of the one Lua state, on this thread.
            unsafe { arm(state) };
        }
        let budget = CALLBACK_BUDGET_US.load(Ordering::Relaxed);
        let watched = budget > 0 && previous.is_null();
        if watched {
            set_cpu_alarm(Duration::from_micros(budget));
        }
        RunningGuard {
            previous,
            state,
            watched,
        }
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if self.watched {
            set_cpu_alarm(Duration::ZERO);
            if OVERRUN.swap(false, Ordering::SeqCst) && REASON.load(Ordering::SeqCst) == 0 {
                // The alarm came after the callback's last hook check.
                // SAFETY: the coroutine just returned to Rust; its hook is ours to remove.
                unsafe { ffi::lua_sethook(self.state, None, 0, 0) };
            }
        }
        if DRAINING.load(Ordering::SeqCst) {
            // An interrupt armed in this coroutine and never reached must not stop the next
            // callback that reuses it while the runtime drains.
            // SAFETY: the coroutine just returned to Rust; its hook is ours to remove.
            unsafe { ffi::lua_sethook(self.state, None, 0, 0) };
        }
        RUNNING.store(self.previous, Ordering::SeqCst);
    }
}

/// Turns the callback watchdog on with `budget` of CPU time per resume (`None`: off).
pub fn set_callback_timeout(budget: Option<Duration>) {
    let micros = budget.map_or(0, |b| {
        u64::try_from(b.as_micros()).unwrap_or(u64::MAX).max(1)
    });
    CALLBACK_BUDGET_US.store(micros, Ordering::SeqCst);
    if micros > 0 {
        install_handler(libc::SIGVTALRM, on_cpu_alarm);
    }
}

extern "C" fn on_cpu_alarm(_signal: libc::c_int) {
    OVERRUN.store(true, Ordering::SeqCst);
    // SAFETY: the pointer is the coroutine being resumed (or null); see `arm`.
    unsafe { arm(RUNNING.load(Ordering::SeqCst)) };
}

/// One SIGVTALRM after `after` of CPU time (`ZERO`: none).
fn set_cpu_alarm(after: Duration) {
    set_itimer(libc::ITIMER_VIRTUAL, after);
}

/// The interrupt requested so far, if any.
pub fn requested() -> Option<Interrupt> {
    match REASON.load(Ordering::SeqCst) {
        0 => None,
        DEADLINE => Some(Interrupt::Deadline),
        signal => Some(Interrupt::Signal(signal)),
    }
}

/// The runtime took note of the signal and drains for up to `limit`: resumes are no longer
/// interrupted, and the last-resort alarm moves to `limit` (then the running callback is
/// interrupted, and a second later the process ends at once).
pub fn begin_drain(limit: Duration) {
    DRAINING.store(true, Ordering::SeqCst);
    install_alarm_handler();
    set_alarm(limit + Duration::from_millis(100));
}

/// True once after the interrupt hook stopped a task (it is not that task's error).
pub fn take_hooked() -> bool {
    HOOKED.swap(false, Ordering::SeqCst)
}

/// Called from the SIGINT/SIGTERM handler (async-signal-safe): a first signal interrupts the
/// running coroutine and starts the grace period; a second one ends the process at once.
pub fn on_signal(signal: i32) {
    if REASON.load(Ordering::SeqCst) > 0 {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + signal) };
    }
    request(signal);
}

/// Arms the `--run-for -N` deadline: after `limit`, running Lua is interrupted (the loop's own
/// timer ends an idle run at the same time; this only matters while Lua is busy).
pub fn arm_deadline(limit: Duration) {
    install_alarm_handler();
    set_alarm(limit + Duration::from_millis(50));
}

fn request(reason: i32) {
    if REASON
        .compare_exchange(0, reason, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return;
    }
    // SAFETY: the pointer is the coroutine being resumed (or null); see `arm`.
    unsafe { arm(RUNNING.load(Ordering::SeqCst)) };
    install_alarm_handler();
    set_alarm(GRACE);
}

/// Installs the interrupt hook in `state`.
///
/// # Safety
/// `state` is null or a live coroutine of the Lua state owned by this thread.
unsafe fn arm(state: *mut lua_State) {
    if !state.is_null() {
        // SAFETY: lua_sethook may be called asynchronously (see the Lua manual).
        unsafe { ffi::lua_sethook(state, Some(interrupt_hook), ffi::LUA_MASKCOUNT, 1) };
    }
}

/// The count hook: yields the coroutine to the runtime, or raises `interrupted` where it
/// cannot yield.
unsafe extern "C-unwind" fn interrupt_hook(state: *mut lua_State, _debug: *mut lua_Debug) {
    if REASON.load(Ordering::SeqCst) == 0 {
        if OVERRUN.swap(false, Ordering::SeqCst) {
            // One error per budget used up: the error handlers run unhooked, and a callback
            // that catches the error and keeps computing gets the next one a budget later.
            let budget = CALLBACK_BUDGET_US.load(Ordering::Relaxed);
            set_cpu_alarm(Duration::from_micros(budget));
            // SAFETY: removing our own hook and raising an error from a hook are allowed;
            // nothing Rust-owned is alive.
            unsafe {
                ffi::lua_sethook(state, None, 0, 0);
                ffi::lua_pushstring(
                    state,
                    c"callback timeout: the callback ran longer than --callback-timeout allows"
                        .as_ptr(),
                );
                ffi::lua_error(state);
            }
        }
        return;
    }
    HOOKED.store(true, Ordering::SeqCst);
    // SAFETY: called by Lua with the running coroutine; a hook may yield with no results, and
    // may remove itself before it does (the stopped coroutine is never resumed again; where
    // it raises instead, the hook stays, so a `pcall` around the loop cannot outlive it).
    unsafe {
        if ffi::lua_isyieldable(state) != 0 {
            ffi::lua_sethook(state, None, 0, 0);
            ffi::lua_yield(state, 0);
        } else {
            ffi::lua_pushstring(state, c"interrupted".as_ptr());
            ffi::lua_error(state);
        }
    }
}

extern "C" fn on_alarm(_signal: libc::c_int) {
    match REASON.load(Ordering::SeqCst) {
        // The deadline passed while Lua was busy: interrupt it.
        0 => request(DEADLINE),
        // The grace period of a request ran out.
        DEADLINE => unsafe { libc::_exit(0) },
        // The drain's time is up with a callback still busy: interrupt it, and give it a
        // second before the last resort.
        _ if DRAINING.swap(false, Ordering::SeqCst) => {
            // SAFETY: the pointer is the coroutine being resumed (or null); see `arm`.
            unsafe { arm(RUNNING.load(Ordering::SeqCst)) };
            set_alarm(Duration::from_secs(1));
        }
        signal => unsafe { libc::_exit(128 + signal) },
    }
}

fn install_alarm_handler() {
    install_handler(libc::SIGALRM, on_alarm);
}

/// Installs `handler` for `signal` (SA_RESTART, empty mask).
fn install_handler(signal: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: a zeroed sigaction with a plain handler and an empty mask is valid; sigaction is
    // async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as *const () as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}

/// One SIGALRM after `after` (replacing any earlier one).
fn set_alarm(after: Duration) {
    set_itimer(libc::ITIMER_REAL, after);
}

/// Arms interval timer `which` to fire once after `after` (`ZERO` disarms it).
fn set_itimer(which: libc::c_int, after: Duration) {
    let after = after.min(Duration::from_secs(i32::MAX as u64));
    let timer = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: after.as_secs() as libc::time_t,
            tv_usec: libc::suseconds_t::from(after.subsec_micros() as i32),
        },
    };
    // SAFETY: setitimer is async-signal-safe; `timer` is valid.
    unsafe { libc::setitimer(which, &timer, std::ptr::null_mut()) };
}
