//! The runtime: owns the Lua state and the reactor, runs the start-up plan (`src/plan.rs`) as
//! the *foreground* task, and decides when the process ends and with which exit status. This
//! file is the loop (poll, sleep budget, exit); `dispatch.rs` hands due timers and socket
//! events to task coroutines; `foreground.rs` runs the plan's steps and the REPL's lines.
//!
//! The path of one event: the reactor reports a due timer or a ready source → the runtime claims
//! it → [`Tasks`] resumes a coroutine → the outcome is settled in `dispatch.rs` (an error in a
//! callback is reported, an error in the foreground chunk ends the run with status 1).

mod dispatch;
mod foreground;
mod shutdown;

use foreground::Foreground;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mlua::{Function, Lua};

use crate::api::output::flush_stdout;
use crate::cli::{Options, RunFor, Script};
use crate::lua::closing::close_state;
use crate::lua::interrupt;
use crate::lua::state::new_state;
use crate::lua::tasks::Tasks;
use crate::plan::{self, Step};
use crate::reactor::ReadyEvent;
use crate::reactor::{duration, signals};
use crate::repl::Repl;
use crate::sockets::{Reactor, SharedReactor};

/// The CPU time one QuickApp callback may run by default (`--callback-timeout` changes it).
const DEFAULT_FIBARO_CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot set up the event loop: {0}")]
    Reactor(#[from] std::io::Error),
    #[error("cannot set up Lua: {0}")]
    Lua(#[from] mlua::Error),
}

/// The process: Lua, reactor and the main program's progress.
pub struct Runtime {
    lua: Lua,
    reactor: SharedReactor,
    tasks: Tasks,
    /// The prelude's `print`, for REPL results (the global may have been replaced).
    print: Function,
    steps: VecDeque<Step>,
    foreground: Option<Foreground>,
    repl: Option<Repl>,
    options: Options,
    started: Instant,
    exit: Option<i32>,
    fired: Vec<u64>,
    events: Vec<ReadyEvent>,
    /// A graceful shutdown in progress (`shutdown.rs`).
    shutdown: Option<shutdown::Shutdown>,
}

impl Runtime {
    /// Sets up Lua and the reactor for `options`.
    pub fn new(options: Options) -> Result<Runtime, StartError> {
        let reactor = SharedReactor::new(Reactor::new()?.into());
        let setup = new_state(&reactor, options.debug)?;
        let tasks = Tasks::new(&setup.lua, &setup.hooks)?;
        let print = setup.hooks.get("print")?;
        let mut runtime = Runtime {
            lua: setup.lua,
            reactor,
            tasks,
            print,
            steps: VecDeque::new(),
            foreground: None,
            repl: None,
            options,
            started: Instant::now(),
            exit: None,
            fired: Vec::new(),
            events: Vec::new(),
            shutdown: None,
        };
        signals::forward_to(interrupt::on_signal);
        runtime.limits_from_config_files()?;
        crate::net::caps::configure(
            runtime.options.max_connections,
            runtime.options.max_server_connections,
        );
        if let Some(mb) = runtime.options.memory_limit_mb {
            crate::lua::memory::set_limit(&runtime.lua, (mb * 1024.0 * 1024.0) as u64)?;
        }
        let default_timeout = if runtime.options.fibaro {
            Some(DEFAULT_FIBARO_CALLBACK_TIMEOUT)
        } else {
            None
        };
        let budget = match runtime.options.callback_timeout {
            Some(seconds) => duration::from_secs(seconds).filter(|d| !d.is_zero()),
            None => default_timeout,
        };
        interrupt::set_callback_timeout(budget);
        if let Some(RunFor::Exactly(limit)) = runtime.options.run_for {
            interrupt::arm_deadline(duration::from_secs(limit).unwrap_or(Duration::ZERO));
        }
        let stdin_is_terminal = std::io::IsTerminal::is_terminal(&std::io::stdin());
        runtime.steps = plan::plan(&runtime.options, plan::lua_init(), stdin_is_terminal);
        runtime.set_arg_table()?;
        Ok(runtime)
    }

    /// `memory_limit`, `callback_timeout`, `max_connections` and `max_server_connections`
    /// from `.plua.lua` (lua_stdlib/plua/config.lua) for the limits the command line left out. Config files run on first use of `_PY.pluaconfig`,
    /// not at start-up; only a file that names one of these keys is run now (once: the module
    /// keeps the result for `_PY.pluaconfig`). Without such a file start-up costs two reads.
    fn limits_from_config_files(&mut self) -> mlua::Result<()> {
        let options = &self.options;
        if options.memory_limit_mb.is_some()
            && options.callback_timeout.is_some()
            && options.max_connections.is_some()
            && options.max_server_connections.is_some()
        {
            return Ok(());
        }
        let home = std::env::var_os("HOME")
            .filter(|home| !home.is_empty())
            .map(|home| std::path::PathBuf::from(home).join(".plua.lua"));
        let names_a_limit = |path: &std::path::Path| {
            std::fs::read(path).is_ok_and(|text| {
                let text = String::from_utf8_lossy(&text);
                [
                    "memory_limit",
                    "callback_timeout",
                    "max_connections",
                    "max_server_connections",
                ]
                .iter()
                .any(|key| text.contains(key))
            })
        };
        if !home.as_deref().is_some_and(names_a_limit)
            && !names_a_limit(std::path::Path::new(".plua.lua"))
        {
            return Ok(());
        }
        let require: mlua::Function = self.lua.globals().get("require")?;
        let config: mlua::Table = require.call("plua.config")?;
        type Limits = (Option<f64>, Option<f64>, Option<f64>, Option<f64>);
        let (memory, timeout, total, per_server): Limits =
            config.get::<mlua::Function>("limits")?.call(())?;
        let count = |value: Option<f64>| value.map(|n| n.min(usize::MAX as f64) as usize);
        let options = &mut self.options;
        options.memory_limit_mb = options.memory_limit_mb.or(memory);
        options.callback_timeout = options.callback_timeout.or(timeout);
        options.max_connections = options.max_connections.or(count(total));
        options.max_server_connections = options.max_server_connections.or(count(per_server));
        Ok(())
    }

    /// ones the interpreter and its options.
    fn set_arg_table(&self) -> mlua::Result<()> {
        let arg = self.lua.create_table()?;
        let script_index = if self.options.script.is_some() {
            self.options.script_index
        } else {
            0
        };
        for (index, value) in self.options.argv.iter().enumerate() {
            arg.raw_set(index as i64 - script_index as i64, value.as_str())?;
        }
        self.lua.globals().set("arg", arg)?;
        if let Some(Script::File(path)) = &self.options.script {
            let py: mlua::Table = self.lua.globals().get("_PY")?;
            py.set("mainfile", path.as_str())?;
        }
        Ok(())
    }

    /// Ends the process's Lua side: pending finalizers run (they may still print), then the
    /// state is closed and everything holding Lua values is forgotten, not dropped.
    pub fn close(self) {
        flush_stdout();
        // SAFETY: `self` (the only owner of Lua values) is forgotten right after.
        unsafe { close_state(&self.lua) };
        std::mem::forget(self);
        flush_stdout();
        // Any C stream still open (a file handle the finalizers did not reach).
        // SAFETY: fflush(NULL) flushes every open output stream; nothing else uses them now.
        unsafe { libc::fflush(std::ptr::null_mut()) };
    }

    /// Runs until the program is done; returns the exit status.
    pub fn run(&mut self) -> i32 {
        loop {
            self.advance_foreground();
            if let Some(code) = self.exit {
                return code;
            }
            self.run_due_timers();
            self.dispatch_net_events();
            self.check_foreground();
            self.release_stranded_foreground();
            self.check_shutdown();
            if let Some(code) = self.exit {
                return code;
            }
            self.advance_foreground();
            if let Some(code) = self.exit {
                return code;
            }
            let Some(timeout) = self.sleep_budget() else {
                if let Some(shutdown) = self.shutdown {
                    return 128 + shutdown.signal;
                }
                if let Some(signal) = self.reactor.borrow_mut().pending_signal() {
                    return 128 + signal;
                }
                self.debug_log(format_args!(
                    "nothing alive after {:.3} s, exiting",
                    self.started.elapsed().as_secs_f64()
                ));
                return 0;
            };
            let timeout = self.drain_budget(timeout);
            flush_stdout();
            let mut events = std::mem::take(&mut self.events);
            if let Err(error) = self.reactor.borrow_mut().wait(timeout, &mut events) {
                eprintln!("plua: event loop failed: {error}");
                return 1;
            }
            for event in events.drain(..) {
                self.handle_event(event);
            }
            self.events = events;
            self.dispatch_net_events();
        }
    }

    /// How long the poller may sleep (`Some(None)`: until an event), or `None` when the
    /// process should exit now.
    fn sleep_budget(&self) -> Option<Option<Duration>> {
        let reactor = self.reactor.borrow();
        let next_timer = reactor.timers.time_to_next();
        let main_busy = self.foreground.is_some() || !self.steps.is_empty() || self.repl.is_some();
        let alive = main_busy || reactor.is_alive();
        // The clock is read only for `--run-for` (the common turn needs no time of its own).
        let until = |limit: f64| {
            duration::from_secs(limit)
                .unwrap_or(Duration::ZERO)
                .saturating_sub(self.started.elapsed())
        };
        let earliest = |a: Option<Duration>, b: Duration| Some(a.map_or(b, |a| a.min(b)));
        let repl_direct = self.repl.as_ref().is_some_and(Repl::reads_directly);
        let next_timer = if repl_direct {
            Some(Duration::ZERO)
        } else {
            next_timer
        };
        match self.options.run_for {
            None if !alive => None,
            None => Some(next_timer),
            Some(RunFor::Forever) => Some(next_timer),
            Some(RunFor::AtLeast(limit)) => {
                let remaining = until(limit);
                if remaining.is_zero() && !alive {
                    None
                } else if alive {
                    Some(next_timer)
                } else {
                    Some(earliest(next_timer, remaining))
                }
            }
            Some(RunFor::Exactly(limit)) => {
                let remaining = until(limit);
                if remaining.is_zero() {
                    None
                } else {
                    Some(earliest(next_timer, remaining))
                }
            }
        }
    }

    fn handle_event(&mut self, event: ReadyEvent) {
        match event {
            ReadyEvent::Signal(signal) => self.begin_shutdown(signal),
            ReadyEvent::Stdin => {
                if let Some(repl) = &mut self.repl {
                    repl.read_available();
                }
            }
        }
    }

    /// One line of the `-d` runtime log on stderr.
    fn debug_log(&self, message: std::fmt::Arguments) {
        if self.options.debug {
            eprintln!("plua: debug: {message}");
        }
    }
}
