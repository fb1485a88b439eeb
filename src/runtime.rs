//! The runtime: owns the Lua state and the reactor, runs the main chunks (`-l`, `-e`, the
//! script, then the REPL) one after another as the *foreground* task, dispatches reactor events
//! to task coroutines, and decides when the process ends and with which exit status.
//!
//! The path of one event: the reactor reports a due timer or a ready source → the runtime claims
//! it → [`Tasks`] resumes a coroutine → the outcome is settled here (an error in a callback is
//! logged, an error in the foreground chunk ends the run with status 1).

use std::collections::VecDeque;
use std::io::Read;
use std::time::{Duration, Instant};

use mlua::thread::ThreadStatus;
use mlua::{Function, Lua, MultiValue, Thread, Value};

use crate::api::output::{flush_stdout, write_stdout};
use crate::cli::{Options, RunFor, Script};
use crate::lua::interrupt::{self, Interrupt};
use crate::lua::state::{close_state, new_state};
use crate::lua::tasks::{Outcome, Tasks, describe_error};
use crate::lua::values::{request_table, to_lua_multi};
use crate::net::NetEvent;
use crate::reactor::timers::TimerAction;
use crate::reactor::{Reactor, ReadyEvent, SharedReactor};
use crate::reactor::{duration, signals};
use crate::repl::{Repl, ReplStep};

/// The CPU time one QuickApp callback may run by default (`--callback-timeout` changes it).
const DEFAULT_FIBARO_CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// One step of the main program, in the order they run.
enum MainStep {
    /// `LUA_INIT_5_4` / `LUA_INIT`, as the standard `lua` runs it first.
    Init(String),
    Require(String),
    Chunk(String),
    Script(Script),
    /// `--fibaro`: the QuickApp files for the emulator.
    Fibaro(Vec<String>),
    /// `--api` without `--fibaro`: the API server next to a plain script.
    Api,
    /// `-t TOOL args...`.
    Tool(String, Vec<String>),
    /// `--debugger`: `require("mobdebug").start(host, port)` before everything else.
    Debugger(String, u16),
    Repl,
}

impl MainStep {
    fn describe(&self) -> String {
        match self {
            MainStep::Init(_) => "LUA_INIT".into(),
            MainStep::Require(name) => format!("-l {name}"),
            MainStep::Chunk(_) => "-e chunk".into(),
            MainStep::Script(Script::File(path)) => format!("script {path}"),
            MainStep::Script(Script::Stdin) => "script from stdin".into(),
            MainStep::Fibaro(files) => format!("QuickApps {}", files.join(" ")),
            MainStep::Api => "API server".into(),
            MainStep::Tool(name, _) => format!("tool {name}"),
            MainStep::Debugger(host, port) => format!("debugger {host}:{port}"),
            MainStep::Repl => "REPL".into(),
        }
    }
}

/// What the foreground task is, for error handling.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ForegroundKind {
    Main,
    ReplLine,
}

struct Foreground {
    thread: Thread,
    kind: ForegroundKind,
}

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
    steps: VecDeque<MainStep>,
    foreground: Option<Foreground>,
    repl: Option<Repl>,
    options: Options,
    started: Instant,
    exit: Option<i32>,
    fired: Vec<u64>,
    events: Vec<ReadyEvent>,
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
        };
        signals::forward_to(interrupt::on_signal);
        runtime.limits_from_config_files()?;
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
        runtime.plan_main_steps();
        runtime.set_arg_table()?;
        Ok(runtime)
    }

    /// `memory_limit` and `callback_timeout` from `.plua.lua` (lua_stdlib/plua/config.lua) for
    /// the limits the command line left out. Config files run on first use of `_PY.pluaconfig`,
    /// not at start-up; only a file that names one of these keys is run now (once: the module
    /// keeps the result for `_PY.pluaconfig`). Without such a file start-up costs two reads.
    fn limits_from_config_files(&mut self) -> mlua::Result<()> {
        let options = &self.options;
        if options.memory_limit_mb.is_some() && options.callback_timeout.is_some() {
            return Ok(());
        }
        let home = std::env::var_os("HOME")
            .filter(|home| !home.is_empty())
            .map(|home| std::path::PathBuf::from(home).join(".plua.lua"));
        let names_a_limit = |path: &std::path::Path| {
            std::fs::read(path).is_ok_and(|text| {
                let text = String::from_utf8_lossy(&text);
                text.contains("memory_limit") || text.contains("callback_timeout")
            })
        };
        if !home.as_deref().is_some_and(names_a_limit)
            && !names_a_limit(std::path::Path::new(".plua.lua"))
        {
            return Ok(());
        }
        let require: mlua::Function = self.lua.globals().get("require")?;
        let config: mlua::Table = require.call("plua.config")?;
        let (memory, timeout): (Option<f64>, Option<f64>) =
            config.get::<mlua::Function>("limits")?.call(())?;
        self.options.memory_limit_mb = self.options.memory_limit_mb.or(memory);
        self.options.callback_timeout = self.options.callback_timeout.or(timeout);
        Ok(())
    }

    fn plan_main_steps(&mut self) {
        let options = &self.options;
        let init = ["LUA_INIT_5_4", "LUA_INIT"]
            .iter()
            .find_map(|name| std::env::var(name).ok());
        let mut steps: VecDeque<MainStep> = init.into_iter().map(MainStep::Init).collect();
        if options.debugger {
            let host = options.debugger_host.as_deref().unwrap_or("127.0.0.1");
            let port = options.debugger_port.unwrap_or(8818);
            steps.push_front(MainStep::Debugger(host.to_owned(), port));
        }
        steps.extend(options.requires.iter().cloned().map(MainStep::Require));
        steps.extend(options.chunks.iter().cloned().map(MainStep::Chunk));
        let stdin_is_terminal = std::io::IsTerminal::is_terminal(&std::io::stdin());
        let script = match &options.script {
            Some(script) => Some(script.clone()),
            None if options.chunks.is_empty() && !options.interactive && !stdin_is_terminal => {
                Some(Script::Stdin)
            }
            None => None,
        };
        if let Some((name, args)) = &options.tool {
            steps.push_back(MainStep::Tool(name.clone(), args.clone()));
            self.steps = steps;
            return;
        }
        let nothing_to_run = script.is_none() && options.chunks.is_empty();
        if !options.fibaro && options.api.wanted(false) {
            steps.push_back(MainStep::Api);
        }
        match script {
            Some(Script::File(first)) if options.fibaro => {
                let mut files = vec![first];
                files.extend(options.script_args.iter().cloned());
                steps.push_back(MainStep::Fibaro(files));
            }
            Some(script) => steps.push_back(MainStep::Script(script)),
            None => {}
        }
        if options.interactive || (nothing_to_run && stdin_is_terminal) {
            steps.push_back(MainStep::Repl);
        }
        self.steps = steps;
    }

    /// The standard `arg` table: `arg[0]` the script, positive indices its arguments, negative
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
            if let Some(code) = self.exit {
                return code;
            }
            self.advance_foreground();
            if let Some(code) = self.exit {
                return code;
            }
            let Some(timeout) = self.sleep_budget() else {
                if let Some(signal) = self.reactor.borrow_mut().pending_signal() {
                    return 128 + signal;
                }
                self.debug_log(format_args!(
                    "nothing alive after {:.3} s, exiting",
                    self.started.elapsed().as_secs_f64()
                ));
                return 0;
            };
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
        let alive = main_busy || reactor.alive() > 0;
        let lived = self.started.elapsed();
        let until = |limit: f64| {
            duration::from_secs(limit)
                .unwrap_or(Duration::ZERO)
                .saturating_sub(lived)
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
            ReadyEvent::Signal(signal) => {
                self.debug_log(format_args!("signal {signal}, shutting down"));
                self.exit = Some(128 + signal);
            }
            ReadyEvent::Stdin => {
                if let Some(repl) = &mut self.repl {
                    repl.read_available();
                }
            }
        }
    }

    fn run_due_timers(&mut self) {
        let mut fired = std::mem::take(&mut self.fired);
        self.reactor.borrow_mut().timers.expire(&mut fired);
        for &token in &fired {
            let claimed = self.reactor.borrow_mut().timers.claim(token);
            let Some(timer) = claimed else {
                continue;
            };
            let id = timer.id;
            match timer.action {
                TimerAction::Callback => {
                    let (thread, outcome) = self.tasks.run_timer(id, timer.finished);
                    self.settle(&thread, outcome, "timer");
                }
                TimerAction::Resume => {
                    if let Some((thread, outcome)) = self.tasks.resume_waiter(id, MultiValue::new())
                    {
                        self.settle(&thread, outcome, "timer");
                    }
                }
                TimerAction::Net => self.reactor.borrow_mut().net_timer(id),
            }
            if self.exit.is_some() {
                break;
            }
        }
        fired.clear();
        self.fired = fired;
    }

    /// Hands finished socket operations and socket events to Lua: the ones queued now, not
    /// those their callbacks queue (they wait for the next turn, so I/O is never starved).
    fn dispatch_net_events(&mut self) {
        let pending = self.reactor.borrow().net.events.len();
        for _ in 0..pending {
            let event = self.reactor.borrow_mut().net.events.pop_front();
            let Some(event) = event else {
                break;
            };
            match event {
                NetEvent::Complete { op, values } => {
                    let values = match to_lua_multi(&self.lua, values) {
                        Ok(values) => values,
                        Err(error) => {
                            eprintln!("plua: {}", describe_error(&error));
                            continue;
                        }
                    };
                    if let Some((thread, outcome)) = self.tasks.complete(op, values) {
                        self.settle(&thread, outcome, "network");
                    }
                }
                NetEvent::Emit { owner, event, args } => {
                    let args = match to_lua_multi(&self.lua, args) {
                        Ok(args) => args,
                        Err(error) => {
                            eprintln!("plua: {}", describe_error(&error));
                            continue;
                        }
                    };
                    let (thread, outcome) = self.tasks.emit(owner, event, args);
                    self.settle(&thread, outcome, event);
                }
                NetEvent::HttpRequest {
                    server,
                    conn,
                    seq,
                    request,
                } => {
                    let req = match request_table(&self.lua, &request) {
                        Ok(req) => req,
                        Err(error) => {
                            eprintln!("plua: {}", describe_error(&error));
                            continue;
                        }
                    };
                    let args = (conn as i64, seq as i64, req);
                    let (thread, outcome) = self.tasks.emit(server, "request", args);
                    self.settle(&thread, outcome, "request");
                }
            }
            if self.exit.is_some() {
                break;
            }
        }
    }

    /// Acts on how a task's resume ended.
    fn settle(&mut self, thread: &Thread, outcome: Outcome, kind: &str) {
        if let Some(interrupt) = interrupt::requested() {
            // The task was stopped by the interrupt hook (or ran into it): not its error.
            self.exit = Some(match interrupt {
                Interrupt::Signal(signal) => 128 + signal,
                Interrupt::Deadline => 0,
            });
            return;
        }
        let is_foreground = self
            .foreground
            .as_ref()
            .is_some_and(|fg| fg.thread == *thread);
        if !is_foreground {
            if let Outcome::Failed(message) = outcome {
                eprintln!("Error in {kind} callback: {message}");
            }
            return;
        }
        match outcome {
            Outcome::Suspended => {}
            Outcome::Finished(values) => {
                let finished = self.foreground.take();
                if finished.is_some_and(|fg| fg.kind == ForegroundKind::ReplLine) {
                    self.print_repl_values(values);
                }
            }
            Outcome::Failed(message) => {
                let finished = self.foreground.take();
                self.report_foreground_error(finished.map(|fg| fg.kind), &message);
            }
        }
    }

    fn report_foreground_error(&mut self, kind: Option<ForegroundKind>, message: &str) {
        flush_stdout();
        eprintln!("plua: {message}");
        match kind {
            Some(ForegroundKind::ReplLine) => {
                if let Some(repl) = &self.repl {
                    repl.prompt();
                }
            }
            _ => self.exit = Some(1),
        }
    }

    fn print_repl_values(&self, values: MultiValue) {
        if !values.is_empty()
            && let Err(error) = self.print.call::<()>(values)
        {
            eprintln!("plua: {}", describe_error(&error));
        }
        if let Some(repl) = &self.repl {
            repl.prompt();
        }
    }

    /// A foreground coroutine resumed by user code (not by the runtime) may have ended.
    fn check_foreground(&mut self) {
        let ended = self.foreground.as_ref().is_some_and(|fg| {
            matches!(
                fg.thread.status(),
                ThreadStatus::Finished | ThreadStatus::Error
            )
        });
        if ended {
            let finished = self.foreground.take();
            if finished.is_some_and(|fg| fg.kind == ForegroundKind::ReplLine)
                && let Some(repl) = &self.repl
            {
                repl.prompt();
            }
        }
    }

    /// A foreground chunk suspended (a bare `coroutine.yield()`, or waiting for a coroutine
    /// nobody will resume) while nothing alive is left to resume it would keep the process
    /// waiting forever: it is given up with a warning, and the run goes on as when idle.
    fn release_stranded_foreground(&mut self) {
        let Some(fg) = &self.foreground else {
            return;
        };
        let forever = matches!(self.options.run_for, Some(RunFor::Forever));
        if forever
            || fg.thread.status() != ThreadStatus::Resumable
            || self.reactor.borrow().alive() > 0
        {
            return;
        }
        let what = match fg.kind {
            ForegroundKind::Main => "the main chunk",
            ForegroundKind::ReplLine => "the REPL line",
        };
        flush_stdout();
        eprintln!(
            "plua: warning: {what} is suspended and nothing is left that could resume it; giving it up"
        );
        let finished = self.foreground.take();
        if finished.is_some_and(|fg| fg.kind == ForegroundKind::ReplLine)
            && let Some(repl) = &self.repl
        {
            repl.prompt();
        }
    }

    /// Starts main steps (and REPL lines) while nothing runs in the foreground.
    fn advance_foreground(&mut self) {
        while self.foreground.is_none() && self.exit.is_none() {
            if let Some(repl) = &mut self.repl {
                if repl.reads_directly() {
                    repl.read_available();
                }
                match repl.next_step() {
                    ReplStep::Run(function) => self.start_foreground(
                        &function,
                        MultiValue::new(),
                        ForegroundKind::ReplLine,
                    ),
                    ReplStep::Error(message) => {
                        eprintln!("plua: {message}");
                        repl.prompt();
                    }
                    ReplStep::Wait => return,
                    ReplStep::Quit => {
                        write_stdout(b"\n");
                        repl.stop(&mut self.reactor.borrow_mut());
                        self.exit = Some(0);
                    }
                }
                continue;
            }
            let Some(step) = self.steps.pop_front() else {
                return;
            };
            self.start_step(step);
        }
    }

    /// One line of the `-d` runtime log on stderr.
    fn debug_log(&self, message: std::fmt::Arguments) {
        if self.options.debug {
            eprintln!("plua: debug: {message}");
        }
    }

    fn start_step(&mut self, step: MainStep) {
        self.debug_log(format_args!("starting {}", step.describe()));
        let loaded = match step {
            MainStep::Init(code) => match code.strip_prefix('@') {
                Some(path) => self
                    .load_script(&Script::File(path.to_owned()))
                    .map(|(f, _)| (f, Vec::new())),
                None => self
                    .lua
                    .load(code.as_str())
                    .set_name("=LUA_INIT")
                    .into_function()
                    .map(|f| (f, Vec::new())),
            },
            MainStep::Require(name) => self.require_step(&name),
            MainStep::Chunk(code) => self
                .lua
                .load(code.as_str())
                .set_name("=(command line)")
                .into_function()
                .map(|f| (f, Vec::new())),
            MainStep::Script(script) => self.load_script(&script),
            MainStep::Fibaro(files) => self.fibaro_step(files),
            MainStep::Api => self
                .lua
                .load(
                    "local offline = ... require('fibaro').setup({offline = offline == 'true'}) \
                     require('fibaro.api_server').start_from_args(false, select(2, ...))",
                )
                .set_name("=(api)")
                .into_function()
                .map(|f| {
                    let mut args = vec![self.options.offline.to_string()];
                    args.extend(self.api_args());
                    (f, args)
                }),
            MainStep::Tool(name, args) => {
                let mut all = vec![name];
                all.extend(args);
                self.lua
                    .load("require('fibaro').setup({offline = true}) require('fibaro.tools').run(...)")
                    .set_name("=(tool)")
                    .into_function()
                    .map(|f| (f, all))
            }
            MainStep::Debugger(host, port) => self
                .lua
                .load("local host, port = ...; require('mobdebug').start(host, tonumber(port))")
                .set_name("=(debugger)")
                .into_function()
                .map(|f| (f, vec![host, port.to_string()])),
            MainStep::Repl => {
                match Repl::start(&self.lua, &mut self.reactor.borrow_mut()) {
                    Ok(repl) => self.repl = Some(repl),
                    Err(error) => {
                        eprintln!("plua: cannot start the REPL: {}", describe_error(&error));
                        self.exit = Some(1);
                    }
                }
                return;
            }
        };
        match loaded {
            Ok((function, args)) => {
                let args: Vec<Value> = args
                    .into_iter()
                    .filter_map(|a| self.lua.create_string(a).ok().map(Value::String))
                    .collect();
                self.start_foreground(&function, MultiValue::from_vec(args), ForegroundKind::Main);
            }
            Err(error) => {
                self.report_foreground_error(Some(ForegroundKind::Main), &describe_error(&error));
            }
        }
    }

    fn start_foreground(&mut self, function: &Function, args: MultiValue, kind: ForegroundKind) {
        let (thread, outcome) = self.tasks.start(function, args);
        self.foreground = Some(Foreground {
            thread: thread.clone(),
            kind,
        });
        self.settle(&thread, outcome, "main");
    }

    /// `-l NAME`: a chunk that does `NAME = require("NAME")` (dotted names bind the last part).
    fn require_step(&self, name: &str) -> mlua::Result<(Function, Vec<String>)> {
        let global = name.rsplit('.').next().unwrap_or(name).to_owned();
        let function = self
            .lua
            .load("local name, global = ...; _G[global] = require(name)")
            .set_name("=(command line)")
            .into_function()?;
        Ok((function, vec![name.to_owned(), global]))
    }

    /// `--fibaro`: a chunk that hands the QuickApp files to the emulator (`lua_stdlib/fibaro`).
    /// The API server's options as chunk arguments: enabled, host, port, user, password
    /// ("" where not given; `fibaro.api_server.start_from_args` reads them).
    fn api_args(&self) -> Vec<String> {
        let api = &self.options.api;
        vec![
            api.wanted(self.options.fibaro).to_string(),
            api.host.clone().unwrap_or_default(),
            api.port.map(|p| p.to_string()).unwrap_or_default(),
            api.user.clone().unwrap_or_default(),
            api.password.clone().unwrap_or_default(),
        ]
    }

    /// `--fibaro`: the API server starts first (a port in use ends the run with status 1
    /// before any QA runs; the server keeps the run alive), then the QuickApps load.
    fn fibaro_step(&self, files: Vec<String>) -> mlua::Result<(Function, Vec<String>)> {
        let function = self
            .lua
            .load(
                "local offline, speed = ... \
                 require('fibaro.api_server').start_from_args(true, select(3, ...)) \
                 require('fibaro').run({offline = offline == 'true', speed = tonumber(speed), \
                 files = {select(8, ...)}})",
            )
            .set_name("=(fibaro)")
            .into_function()?;
        let mut args = vec![
            self.options.offline.to_string(),
            self.options
                .speed
                .map(|s| s.to_string())
                .unwrap_or_default(),
        ];
        args.extend(self.api_args());
        args.extend(files);
        Ok((function, args))
    }

    fn load_script(&self, script: &Script) -> mlua::Result<(Function, Vec<String>)> {
        let (chunk_name, source) = match script {
            Script::File(path) => {
                let source = std::fs::read(path).map_err(|error| {
                    mlua::Error::runtime(format!("cannot open {path}: {error}"))
                })?;
                (format!("@{path}"), source)
            }
            Script::Stdin => {
                let mut source = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut source)
                    .map_err(|error| mlua::Error::runtime(format!("cannot read stdin: {error}")))?;
                ("=stdin".to_owned(), source)
            }
        };
        let source = skip_shebang(source);
        let function = self.lua.load(source).set_name(chunk_name).into_function()?;
        Ok((function, self.options.script_args.clone()))
    }
}

/// Blanks a first line starting with `#` (keeping the newline, so line numbers stay right).
fn skip_shebang(mut source: Vec<u8>) -> Vec<u8> {
    if source.first() == Some(&b'#') {
        let end = source
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(source.len());
        source.drain(..end);
    }
    source
}
