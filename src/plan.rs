//! Start-up planning, apart from the loop: what the command line asks to run (`LUA_INIT`,
//! `--debugger`, `-l`, `-e`, the script or stdin, `--fibaro`, `--api`, `-t`, the REPL) as a
//! list of [`Step`]s in order. The runtime runs the plan one step at a time as its foreground
//! task (`src/runtime/foreground.rs`).

use std::collections::VecDeque;

use crate::cli::{Options, Script};

/// One step of the main program, in the order they run.
pub enum Step {
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

impl Step {
    /// How the `-d` log names the step.
    pub fn describe(&self) -> String {
        match self {
            Step::Init(_) => "LUA_INIT".into(),
            Step::Require(name) => format!("-l {name}"),
            Step::Chunk(_) => "-e chunk".into(),
            Step::Script(Script::File(path)) => format!("script {path}"),
            Step::Script(Script::Stdin) => "script from stdin".into(),
            Step::Fibaro(files) => format!("QuickApps {}", files.join(" ")),
            Step::Api => "API server".into(),
            Step::Tool(name, _) => format!("tool {name}"),
            Step::Debugger(host, port) => format!("debugger {host}:{port}"),
            Step::Repl => "REPL".into(),
        }
    }
}

/// The steps `options` ask for, in the order they run. `init` is `LUA_INIT_5_4` / `LUA_INIT`;
/// `stdin_is_terminal` decides whether a bare `plua` reads a script from stdin or starts the
/// REPL.
pub fn plan(options: &Options, init: Option<String>, stdin_is_terminal: bool) -> VecDeque<Step> {
    let mut steps: VecDeque<Step> = init.into_iter().map(Step::Init).collect();
    if options.debugger {
        let host = options.debugger_host.as_deref().unwrap_or("127.0.0.1");
        let port = options.debugger_port.unwrap_or(8818);
        steps.push_front(Step::Debugger(host.to_owned(), port));
    }
    steps.extend(options.requires.iter().cloned().map(Step::Require));
    steps.extend(options.chunks.iter().cloned().map(Step::Chunk));
    let script = match &options.script {
        Some(script) => Some(script.clone()),
        None if options.chunks.is_empty() && !options.interactive && !stdin_is_terminal => {
            Some(Script::Stdin)
        }
        None => None,
    };
    if let Some((name, args)) = &options.tool {
        steps.push_back(Step::Tool(name.clone(), args.clone()));
        return steps;
    }
    let nothing_to_run = script.is_none() && options.chunks.is_empty();
    if !options.fibaro && options.api.wanted(false) {
        steps.push_back(Step::Api);
    }
    match script {
        Some(Script::File(first)) if options.fibaro => {
            let mut files = vec![first];
            files.extend(options.script_args.iter().cloned());
            steps.push_back(Step::Fibaro(files));
        }
        Some(script) => steps.push_back(Step::Script(script)),
        None => {}
    }
    if options.interactive || (nothing_to_run && stdin_is_terminal) {
        steps.push_back(Step::Repl);
    }
    steps
}

/// `LUA_INIT_5_4`, else `LUA_INIT`, as the standard `lua` reads them.
pub fn lua_init() -> Option<String> {
    ["LUA_INIT_5_4", "LUA_INIT"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> Options {
        let mut argv = vec![std::ffi::OsString::from("plua")];
        argv.extend(args.iter().map(std::ffi::OsString::from));
        match crate::cli::parse(argv) {
            Ok(crate::cli::Command::Run(options)) => *options,
            _ => panic!("{args:?} is not a run"),
        }
    }

    fn described(steps: VecDeque<Step>) -> Vec<String> {
        steps.iter().map(Step::describe).collect()
    }

    #[test]
    fn init_then_requires_then_chunks_then_the_script_then_the_repl() {
        let steps = plan(
            &options(&["-e", "x=1", "-l", "m", "-i", "s.lua", "a"]),
            Some("print(1)".into()),
            false,
        );
        assert_eq!(
            described(steps),
            ["LUA_INIT", "-l m", "-e chunk", "script s.lua", "REPL"]
        );
    }

    #[test]
    fn bare_plua_reads_stdin_from_a_pipe_and_starts_the_repl_on_a_terminal() {
        assert_eq!(
            described(plan(&options(&[]), None, false)),
            ["script from stdin"]
        );
        assert_eq!(described(plan(&options(&[]), None, true)), ["REPL"]);
    }
}
