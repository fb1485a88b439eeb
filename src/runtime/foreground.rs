//! The foreground task: the start-up plan's steps run one after another (each a coroutine that
//! may wait on the reactor), then the REPL's lines; a foreground error ends the run with status
//! 1 (a REPL line's error only prints), a foreground nobody can resume is given up.

use std::io::Read;

use mlua::thread::ThreadStatus;
use mlua::{Function, MultiValue, Thread, Value};

use super::Runtime;
use crate::api::output::{flush_stdout, write_stdout};
use crate::cli::{RunFor, Script};
use crate::lua::tasks::describe_error;
use crate::plan::Step;
use crate::repl::{Repl, ReplStep};

/// What the foreground task is, for error handling.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ForegroundKind {
    Main,
    ReplLine,
}

/// The chunk (a plan step or a REPL line) running as the foreground task.
pub(super) struct Foreground {
    pub(super) thread: Thread,
    pub(super) kind: ForegroundKind,
}

impl Runtime {
    pub(super) fn report_foreground_error(&mut self, kind: Option<ForegroundKind>, message: &str) {
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

    pub(super) fn print_repl_values(&self, values: MultiValue) {
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
    pub(super) fn check_foreground(&mut self) {
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
    pub(super) fn release_stranded_foreground(&mut self) {
        let Some(fg) = &self.foreground else {
            return;
        };
        let forever = matches!(self.options.run_for, Some(RunFor::Forever));
        if forever
            || fg.thread.status() != ThreadStatus::Resumable
            || self.reactor.borrow().is_alive()
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
    pub(super) fn advance_foreground(&mut self) {
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

    pub(super) fn start_step(&mut self, step: Step) {
        self.debug_log(format_args!("starting {}", step.describe()));
        let loaded = match step {
            Step::Init(code) => match code.strip_prefix('@') {
                Some(path) => self
                    .load_script(&Script::File(path.to_owned()))
                    .map(|f| (f, Vec::new())),
                None => self
                    .lua
                    .load(code.as_str())
                    .set_name("=LUA_INIT")
                    .into_function()
                    .map(|f| (f, Vec::new())),
            },
            Step::Require(name) => self.require_step(&name),
            Step::Chunk(code) => self
                .lua
                .load(code.as_str())
                .set_name("=(command line)")
                .into_function()
                .map(|f| (f, Vec::new())),
            Step::Script(script) => {
                let loaded = self
                    .load_script(&script)
                    .and_then(|function| Ok((function, self.script_varargs()?)));
                match loaded {
                    Ok((function, args)) => {
                        self.start_foreground(&function, args, ForegroundKind::Main)
                    }
                    Err(error) => self.report_foreground_error(
                        Some(ForegroundKind::Main),
                        &describe_error(&error),
                    ),
                }
                return;
            }
            Step::Fibaro(files) => self.fibaro_step(files),
            Step::Api => self
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
            Step::Tool(name, args) => {
                let mut all = vec![name];
                all.extend(args);
                self.lua
                    .load("require('fibaro').setup({offline = true}) require('fibaro.tools').run(...)")
                    .set_name("=(tool)")
                    .into_function()
                    .map(|f| (f, all))
            }
            Step::Debugger(host, port) => self
                .lua
                .load("local host, port = ...; require('mobdebug').start(host, tonumber(port))")
                .set_name("=(debugger)")
                .into_function()
                .map(|f| (f, vec![host, port.to_string()])),
            Step::Repl => {
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

    pub(super) fn start_foreground(
        &mut self,
        function: &Function,
        args: MultiValue,
        kind: ForegroundKind,
    ) {
        let (thread, outcome) = self.tasks.start(function, args);
        self.foreground = Some(Foreground {
            thread: thread.clone(),
            kind,
        });
        self.settle(&thread, outcome, "main");
    }

    /// `-l NAME`: a chunk that does `NAME = require("NAME")` (dotted names bind the last part);
    /// `-l G=NAME` binds the global `G`, as `lua` 5.4 does.
    pub(super) fn require_step(&self, name: &str) -> mlua::Result<(Function, Vec<String>)> {
        let (global, name) = match name.split_once('=') {
            Some((global, module)) => (global.to_owned(), module),
            None => (name.rsplit('.').next().unwrap_or(name).to_owned(), name),
        };
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
    pub(super) fn api_args(&self) -> Vec<String> {
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
    pub(super) fn fibaro_step(&self, files: Vec<String>) -> mlua::Result<(Function, Vec<String>)> {
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

    pub(super) fn load_script(&self, script: &Script) -> mlua::Result<Function> {
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
        self.lua.load(source).set_name(chunk_name).into_function()
    }

    /// The main script's `...`: `arg[1..#arg]` as the global `arg` is when the script starts
    /// (a `-e` chunk may have changed it), as `lua` passes them.
    fn script_varargs(&self) -> mlua::Result<MultiValue> {
        /// Lua's stack limit (`LUAI_MAXSTACK`): past it `lua` fails the same way.
        const MAX_ARGS: i64 = 1_000_000;
        match self.lua.globals().get::<Value>("arg")? {
            Value::Table(arg) => {
                let count = arg.len()?;
                if count > MAX_ARGS {
                    return Err(mlua::Error::runtime("too many arguments to script"));
                }
                (1..=count).map(|index| arg.get::<Value>(index)).collect()
            }
            _ => Err(mlua::Error::runtime("'arg' is not a table")),
        }
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
