//! The command line: raw parsing with `lexopt` into [`Options`], the usage text, and the typed
//! errors a bad command line produces (exit status 2).

use std::ffi::OsString;

use lexopt::prelude::*;

/// Where the main script comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Script {
    /// A file path, as given.
    File(String),
    /// Standard input (`-`, or piped input with no script and no `-e`).
    Stdin,
}

/// `--run-for N`: how long the process lives regardless of what is alive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RunFor {
    /// `0`: until Ctrl-C.
    Forever,
    /// `N > 0`: at least N seconds, then until idle.
    AtLeast(f64),
    /// `N < 0`: exactly abs(N) seconds.
    Exactly(f64),
}

/// A validated command line for a run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-l NAME`, in order.
    pub requires: Vec<String>,
    /// `-e CODE`, in order.
    pub chunks: Vec<String>,
    /// `-i`.
    pub interactive: bool,
    /// `-d` / `--debug`.
    pub debug: bool,
    /// `--run-for`.
    pub run_for: Option<RunFor>,
    /// The script, if one was named.
    pub script: Option<Script>,
    /// Arguments after the script.
    pub script_args: Vec<String>,
    /// The whole command line (for the `arg` table) and the index of the script in it.
    pub argv: Vec<String>,
    pub script_index: usize,
    /// `--fibaro`: the arguments are QuickApp files run by the HC3 emulator.
    pub fibaro: bool,
    /// `-o` / `--offline`: the emulator's unhandled API calls go to an in-memory hub.
    pub offline: bool,
    /// `--speed N`: the emulated clock runs N times faster.
    pub speed: Option<f64>,
    /// `--memory-limit MB`: the Lua state's memory limit.
    pub memory_limit_mb: Option<f64>,
    /// `--callback-timeout S`: CPU seconds one callback may run (`Some(0)`: off; `None`: the
    /// mode's default, on in `--fibaro`).
    pub callback_timeout: Option<f64>,
    /// `--max-connections N`: accepted connections the process may hold, all servers together.
    pub max_connections: Option<usize>,
    /// `--max-server-connections N`: the cap of a server that sets no `max_connections`.
    pub max_server_connections: Option<usize>,
    /// `-t TOOL args...`: a QuickApp tool (pack, unpack, ...) with its arguments.
    pub tool: Option<(String, Vec<String>)>,
    /// `--debugger`: connect to a MobDebug IDE before the main program runs.
    pub debugger: bool,
    /// `--debugger-host` (default 127.0.0.1).
    pub debugger_host: Option<String>,
    /// `--debugger-port` (default 8818).
    pub debugger_port: Option<u16>,
    /// The embedded HC3 API server and web UI.
    pub api: ApiOptions,
}

/// `--api`, `--no-api`, `--port`, `--host`, `--api-user`, `--api-password`: the embedded HC3
/// API server (on by default with `--fibaro`, off otherwise).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiOptions {
    /// `Some(true)` for `--api`, `Some(false)` for `--no-api`, `None`: the mode's default.
    pub enabled: Option<bool>,
    /// `--port` / `--api-port` (default 8000; 0 picks a free port).
    pub port: Option<u16>,
    /// `--host` / `--api-host` (default 127.0.0.1).
    pub host: Option<String>,
    /// `--api-user` / `--api-password`: Basic auth for every request.
    pub user: Option<String>,
    pub password: Option<String>,
}

impl ApiOptions {
    /// Whether the server starts, given whether this is a `--fibaro` run.
    pub fn wanted(&self, fibaro: bool) -> bool {
        self.enabled.unwrap_or(fibaro)
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Run(Box<Options>),
    Help,
    Version,
}

/// A command line plua cannot run.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Parse(#[from] lexopt::Error),
    #[error("option '{0}' is not yet supported")]
    NotYetSupported(String),
    #[error("invalid value '{value}' for '{option}': {reason}")]
    BadValue {
        option: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("argument is not valid UTF-8: {0:?}")]
    NotUnicode(OsString),
}

/// Options of later milestones, recognised so they get a clear "not yet supported".
const LATER_FLAGS: &[&str] = &[];
const LATER_WITH_VALUE: &[&str] = &[];

/// The usage text for `-h`.
pub fn usage() -> String {
    format!(
        "plua {version} — Lua 5.4 on an event loop

Usage: plua [options] [script.lua | -] [script args...]

Options:
  -e CODE          run CODE (repeatable, in order) before the script
  -l NAME          NAME = require(\"NAME\") before -e and the script (repeatable);
                   -l G=NAME sets the global G
  -i               interactive REPL after -e/script
  -                run the script from standard input
  -d, --debug      runtime debug log on stderr (_PY.debug = true)
  --run-for N      0: run until Ctrl-C; N>0: at least N s, then until idle;
                   N<0: exactly abs(N) s
  --fibaro         run the arguments as HC3 QuickApps (.lua with --%% headers, .fqa)
  -o, --offline    the QuickApps' hub is emulated in memory (no real HC3)
  --speed N        the QuickApps' clock and timers run N times faster
  --memory-limit MB   a memory limit for Lua (past it: \"not enough memory\" errors)
  --callback-timeout S  CPU seconds one callback may run before it gets an error
                   (0: off; default off, 10 in --fibaro)
  --max-connections N  accepted connections at most, all servers together (2048)
  --max-server-connections N  the cap of a server without max_connections (1024)
  --api, --no-api  start (or not) the HC3 API server and web UI (default: on
                   with --fibaro, off otherwise)
  --port N         the API server's port (default 8000; 0: a free one, printed)
  --host H         the API server's address (default 127.0.0.1)
  --api-user U, --api-password P
                   Basic auth for the API server
  --debugger       connect to a MobDebug IDE (ZeroBrane, VS Code) before running
  --debugger-host H  the IDE's host (default 127.0.0.1)
  --debugger-port N  the IDE's port (default 8818)
  -t TOOL ARGS     a QuickApp tool: pack qa.lua [out.fqa], unpack x.fqa [dir],
                   uploadQA, updateFile, updateQA, downloadQA <id> [dir]
  -v, --version    print the version and exit
  -h, --help       print this help and exit

With no script and no -e, plua starts the REPL when stdin is a terminal and runs
stdin as a script otherwise.
",
        version = env!("CARGO_PKG_VERSION")
    )
}

/// Parses the command line (including the program name in `args[0]`).
pub fn parse(args: Vec<OsString>) -> Result<Command, CliError> {
    let argv: Vec<String> = args
        .iter()
        .map(|arg| arg.clone().into_string().map_err(CliError::NotUnicode))
        .collect::<Result<_, _>>()?;
    let mut options = Options {
        argv: argv.clone(),
        ..Options::default()
    };
    let mut parser = lexopt::Parser::from_iter(args);
    while let Some(arg) = parser.next()? {
        match arg {
            Short('e') => options.chunks.push(string(parser.value()?)?),
            Short('l') => options.requires.push(string(parser.value()?)?),
            Short('i') => options.interactive = true,
            Short('d') | Long("debug") => options.debug = true,
            Short('v') | Long("version") => return Ok(Command::Version),
            Short('h') | Long("help") => return Ok(Command::Help),
            Long("run-for") => options.run_for = Some(run_for(&string(parser.value()?)?)?),
            Long("fibaro") => options.fibaro = true,
            Short('o') | Long("offline") => options.offline = true,
            Long("speed") => options.speed = Some(speed(&string(parser.value()?)?)?),
            Long("memory-limit") => {
                let value = string(parser.value()?)?;
                options.memory_limit_mb = Some(positive("--memory-limit", &value, false)?);
            }
            Long("callback-timeout") => {
                let value = string(parser.value()?)?;
                options.callback_timeout = Some(positive("--callback-timeout", &value, true)?);
            }
            Long("max-connections") => {
                let value = string(parser.value()?)?;
                options.max_connections = Some(count("--max-connections", &value)?);
            }
            Long("max-server-connections") => {
                let value = string(parser.value()?)?;
                options.max_server_connections = Some(count("--max-server-connections", &value)?);
            }
            Long("api") => options.api.enabled = Some(true),
            Long("no-api") => options.api.enabled = Some(false),
            Long("port") | Long("api-port") => {
                options.api.port = Some(port(&string(parser.value()?)?)?)
            }
            Long("host") | Long("api-host") => options.api.host = Some(string(parser.value()?)?),
            Long("api-user") => options.api.user = Some(string(parser.value()?)?),
            Long("api-password") => options.api.password = Some(string(parser.value()?)?),
            Long("debugger") => options.debugger = true,
            Long("debugger-host") => {
                options.debugger = true;
                options.debugger_host = Some(string(parser.value()?)?);
            }
            Long("debugger-port") => {
                options.debugger = true;
                options.debugger_port = Some(debugger_port(&string(parser.value()?)?)?);
            }
            Short('t') | Long("task") => {
                let name = string(parser.value()?)?;
                let args = parser.raw_args()?.map(string).collect::<Result<_, _>>()?;
                options.tool = Some((name, args));
                break;
            }
            Long(name) if LATER_FLAGS.contains(&name) || LATER_WITH_VALUE.contains(&name) => {
                return Err(CliError::NotYetSupported(format!("--{name}")));
            }
            Value(script) => {
                let script = string(script)?;
                options.script_args = parser.raw_args()?.map(string).collect::<Result<_, _>>()?;
                options.script_index = argv.len() - 1 - options.script_args.len();
                options.script = Some(if script == "-" {
                    Script::Stdin
                } else {
                    Script::File(script)
                });
                break;
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Run(Box::new(options)))
}

fn string(value: OsString) -> Result<String, CliError> {
    value.into_string().map_err(CliError::NotUnicode)
}

/// A positive number (or zero, when `zero_ok`) for `option`.
fn positive(option: &'static str, value: &str, zero_ok: bool) -> Result<f64, CliError> {
    match value.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && (n > 0.0 || (zero_ok && n == 0.0)) => Ok(n),
        _ => Err(CliError::BadValue {
            option,
            value: value.to_owned(),
            reason: if zero_ok {
                "a number of seconds >= 0 expected"
            } else {
                "a positive number expected"
            },
        }),
    }
}

/// A whole number of at least 1 (a connection count).
fn count(option: &'static str, value: &str) -> Result<usize, CliError> {
    match value.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(CliError::BadValue {
            option,
            value: value.to_owned(),
            reason: "a whole number of at least 1 expected",
        }),
    }
}

fn speed(value: &str) -> Result<f64, CliError> {
    match value.trim().parse::<f64>() {
        Ok(factor) if factor.is_finite() && factor >= 1.0 => Ok(factor),
        _ => Err(CliError::BadValue {
            option: "--speed",
            value: value.to_owned(),
            reason: "a factor of at least 1 expected",
        }),
    }
}

fn port(value: &str) -> Result<u16, CliError> {
    value.trim().parse::<u16>().map_err(|_| CliError::BadValue {
        option: "--port",
        value: value.to_owned(),
        reason: "a port number 0..65535 expected",
    })
}

fn debugger_port(value: &str) -> Result<u16, CliError> {
    match value.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(CliError::BadValue {
            option: "--debugger-port",
            value: value.to_owned(),
            reason: "a TCP port from 1 to 65535 expected",
        }),
    }
}

fn run_for(value: &str) -> Result<RunFor, CliError> {
    let seconds: f64 = value.trim().parse().map_err(|_| CliError::BadValue {
        option: "--run-for",
        value: value.to_owned(),
        reason: "expected a number of seconds",
    })?;
    if !seconds.is_finite() {
        return Err(CliError::BadValue {
            option: "--run-for",
            value: value.to_owned(),
            reason: "expected a finite number of seconds",
        });
    }
    Ok(if seconds == 0.0 {
        RunFor::Forever
    } else if seconds > 0.0 {
        RunFor::AtLeast(seconds)
    } else {
        RunFor::Exactly(-seconds)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, CliError> {
        let args = std::iter::once("plua")
            .chain(args.iter().copied())
            .map(OsString::from);
        match parse(args.collect())? {
            Command::Run(options) => Ok(*options),
            other => panic!("expected a run, got {other:?}"),
        }
    }

    #[test]
    fn script_and_its_arguments() {
        let options = run(&["-e", "x=1", "s.lua", "-e", "a"]).expect("parse");
        assert_eq!(options.chunks, vec!["x=1"]);
        assert_eq!(options.script, Some(Script::File("s.lua".into())));
        assert_eq!(options.script_args, vec!["-e", "a"]);
        assert_eq!(options.script_index, 3);
    }

    #[test]
    fn run_for_modes_and_errors() {
        assert_eq!(
            run(&["--run-for", "0"]).expect("0").run_for,
            Some(RunFor::Forever)
        );
        assert_eq!(
            run(&["--run-for", "-2"]).expect("-2").run_for,
            Some(RunFor::Exactly(2.0))
        );
        assert_eq!(
            run(&["--run-for=3"]).expect("3").run_for,
            Some(RunFor::AtLeast(3.0))
        );
        assert!(matches!(
            run(&["--run-for", "x"]),
            Err(CliError::BadValue { .. })
        ));
    }

    #[test]
    fn unknown_and_later_options() {
        assert!(matches!(run(&["--bogus"]), Err(CliError::Parse(_))));
        let debugger = run(&["--debugger-port", "9000", "s.lua"]).expect("debugger");
        assert!(debugger.debugger);
        assert_eq!(debugger.debugger_port, Some(9000));
        assert!(matches!(
            run(&["--debugger-port", "0"]),
            Err(CliError::BadValue { .. })
        ));
        let Ok(Command::Run(fibaro)) = parse(
            ["plua", "--fibaro", "-o", "--speed", "60", "a.lua", "b.lua"]
                .iter()
                .map(OsString::from)
                .collect(),
        ) else {
            panic!("--fibaro parses");
        };
        assert!(fibaro.fibaro && fibaro.offline);
        assert_eq!(fibaro.speed, Some(60.0));
        assert_eq!(fibaro.script_args, vec!["b.lua".to_owned()]);
        assert!(matches!(
            run(&["--speed", "0.5"]),
            Err(CliError::BadValue { .. })
        ));
        assert_eq!(run(&["-"]).expect("stdin").script, Some(Script::Stdin));
    }

    #[test]
    fn api_server_options() {
        let options = run(&["--api", "--port", "0", "--host=0.0.0.0", "--api-user", "u"])
            .expect("api options");
        assert_eq!(options.api.enabled, Some(true));
        assert_eq!(options.api.port, Some(0));
        assert_eq!(options.api.host.as_deref(), Some("0.0.0.0"));
        assert_eq!(options.api.user.as_deref(), Some("u"));
        assert!(options.api.wanted(false));
        let off = run(&["--no-api", "--api-port", "9000"]).expect("no-api");
        assert!(!off.api.wanted(true));
        assert_eq!(off.api.port, Some(9000));
        assert!(run(&[]).expect("default").api.wanted(true));
        assert!(!run(&[]).expect("default").api.wanted(false));
        assert!(matches!(
            run(&["--port", "70000"]),
            Err(CliError::BadValue { .. })
        ));
    }
}
