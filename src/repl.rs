//! The interactive loop's input side: standard input registered with the reactor (so timers
//! keep firing while the REPL waits), split into lines, assembled into complete chunks with
//! `lua_stdlib/plua/repl.lua`, which also makes `local`s persist between lines. The runtime runs
//! each chunk as the foreground task and asks for the next one when it is done.
//!
//! On a terminal, lines come from the line editor (`src/line_editor.rs`: history, completion)
//! through a pipe polled the same way; piped or redirected input is read as it is.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

use mlua::{Function, Lua, Table};

use crate::api::output::{flush_stdout, write_stdout};
use crate::line_editor::{CANCEL, LineEditor};
use crate::sockets::Reactor;

const PROMPT: &str = "plua> ";
const CONTINUE_PROMPT: &str = ">> ";

/// The file status flags of fd 0 before the REPL made it non-blocking (-1: untouched).
static SAVED_STDIN_FLAGS: AtomicI32 = AtomicI32::new(-1);

/// The terminal settings of fd 0 before the line editor started (it may exit mid-line).
static SAVED_TERMIOS: Mutex<Option<libc::termios>> = Mutex::new(None);

/// Puts fd 0 back the way it was, if the REPL changed it. Safe to call more than once.
pub fn restore_stdin() {
    if let Some(termios) = SAVED_TERMIOS.lock().ok().and_then(|mut saved| saved.take()) {
        // SAFETY: tcsetattr on fd 0 with settings read from it by tcgetattr.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &termios);
        }
    }
    let flags = SAVED_STDIN_FLAGS.swap(-1, Ordering::Relaxed);
    if flags >= 0 {
        // SAFETY: fcntl on fd 0 with flags read from the same fd.
        unsafe {
            libc::fcntl(0, libc::F_SETFL, flags);
        }
    }
}

/// What the REPL wants the runtime to do next.
pub enum ReplStep {
    /// Run this chunk as the foreground task and print what it returns.
    Run(Function),
    /// Report a syntax error and go on.
    Error(String),
    /// Nothing to do until more input arrives.
    Wait,
    /// `exit`, `quit` or end of input.
    Quit,
}

/// Standard input as a source of lines.
enum Input {
    /// A private non-blocking file description of fd 0 (pipe or terminal), polled.
    Private(File),
    /// fd 0 itself, made non-blocking and polled (sockets); restored at exit.
    Shared,
    /// A regular file: never blocks, cannot be polled; read directly.
    Regular,
}

/// The REPL's state between lines.
pub struct Repl {
    input: Input,
    partial: Vec<u8>,
    lines: VecDeque<String>,
    chunk: String,
    eof: bool,
    compile: Function,
    /// `plua.repl.prompt`: `_PROMPT`/`_PROMPT2` when the script set them.
    prompt_text: Function,
    /// On a terminal: the line editor, and the function listing names to complete.
    editor: Option<(LineEditor, Function)>,
}

impl Repl {
    /// Opens standard input for the REPL and registers it with the reactor.
    pub fn start(lua: &Lua, reactor: &mut Reactor) -> mlua::Result<Repl> {
        let module: Table = lua.load("return require('plua.repl')").call(())?;
        let editor = if std::io::IsTerminal::is_terminal(&io::stdin()) {
            start_editor(reactor)
        } else {
            None
        };
        let (input, editor) = match editor {
            Some((pipe, editor)) => (
                Input::Private(pipe),
                Some((editor, module.get::<Function>("names")?)),
            ),
            None => (open_input(reactor).map_err(mlua::Error::external)?, None),
        };
        let repl = Repl {
            input,
            partial: Vec::new(),
            lines: VecDeque::new(),
            chunk: String::new(),
            eof: false,
            compile: module.get("compile")?,
            prompt_text: module.get("prompt")?,
            editor,
        };
        repl.prompt();
        Ok(repl)
    }

    /// True when input must be read without waiting for readiness (a regular file).
    pub fn reads_directly(&self) -> bool {
        matches!(self.input, Input::Regular)
    }

    /// Reads what standard input has now.
    pub fn read_available(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            let result = match &mut self.input {
                Input::Private(file) => file.read(&mut buf),
                Input::Shared | Input::Regular => io::stdin().lock().read(&mut buf),
            };
            match result {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    self.partial.extend_from_slice(&buf[..n]);
                    self.split_lines();
                    if matches!(self.input, Input::Regular) && !self.lines.is_empty() {
                        break;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.eof = true;
                    break;
                }
            }
        }
        if self.eof && !self.partial.is_empty() {
            let last = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            self.lines.push_back(last);
        }
    }

    fn split_lines(&mut self) {
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.partial.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.lines
                .push_back(String::from_utf8_lossy(&line).into_owned());
        }
    }

    /// The next thing to do with the input received so far.
    pub fn next_step(&mut self) -> ReplStep {
        loop {
            let Some(line) = self.lines.pop_front() else {
                if self.eof {
                    return ReplStep::Quit;
                }
                return ReplStep::Wait;
            };
            if line == CANCEL {
                // Ctrl-C in the line editor: drop the line and any unfinished chunk.
                self.chunk.clear();
                self.prompt();
                continue;
            }
            let trimmed = line.trim();
            if self.chunk.is_empty() {
                if trimmed == "exit" || trimmed == "quit" {
                    return ReplStep::Quit;
                }
                if trimmed == "help" {
                    if let Some(text) = crate::lua::stdlib::asset("plua/repl_help.txt") {
                        crate::api::output::write_stdout(text);
                    }
                    self.prompt();
                    continue;
                }
                if trimmed.is_empty() {
                    self.prompt();
                    continue;
                }
                self.chunk = line;
            } else {
                self.chunk.push('\n');
                self.chunk.push_str(&line);
            }
            match self
                .compile
                .call::<(Option<Function>, Option<String>)>(self.chunk.as_str())
            {
                Ok((Some(function), _)) => {
                    self.chunk.clear();
                    return ReplStep::Run(function);
                }
                Ok((None, Some(message)))
                    if message == "incomplete" && !(self.eof && self.lines.is_empty()) =>
                {
                    self.show_prompt(CONTINUE_PROMPT);
                }
                Ok((None, message)) => {
                    self.chunk.clear();
                    let message = match message.as_deref() {
                        Some("incomplete") => "unfinished chunk at the end of input".to_owned(),
                        _ => message.unwrap_or_else(|| "syntax error".into()),
                    };
                    return ReplStep::Error(message);
                }
                Err(error) => {
                    self.chunk.clear();
                    return ReplStep::Error(error.to_string());
                }
            }
        }
    }

    /// Shows the prompt for a new chunk.
    pub fn prompt(&self) {
        self.show_prompt(PROMPT);
    }

    /// Prints the prompt (`_PROMPT`/`_PROMPT2` when set, else `default`), or has the line
    /// editor show it and read the next line.
    fn show_prompt(&self, default: &str) {
        let continuation = default == CONTINUE_PROMPT;
        let text = self
            .prompt_text
            .call::<String>((continuation, default))
            .unwrap_or_else(|_| default.to_owned());
        let prompt = text.as_str();
        flush_stdout();
        match &self.editor {
            Some((editor, names)) => {
                let names = names.call::<Vec<String>>(()).unwrap_or_default();
                editor.read_line(prompt, names);
            }
            None => {
                write_stdout(prompt.as_bytes());
                flush_stdout();
            }
        }
    }

    /// Stops reading standard input.
    pub fn stop(&mut self, reactor: &mut Reactor) {
        if !matches!(self.input, Input::Regular) {
            reactor.deregister_stdin(self.raw_fd());
        }
        restore_stdin();
    }

    fn raw_fd(&self) -> RawFd {
        match &self.input {
            Input::Private(file) => file.as_raw_fd(),
            Input::Shared | Input::Regular => 0,
        }
    }
}

/// Starts the line editor and registers its pipe with the reactor; `None` (plain reads of
/// stdin) if that fails.
fn start_editor(reactor: &mut Reactor) -> Option<(File, LineEditor)> {
    // SAFETY: tcgetattr on fd 0 into a zeroed termios.
    unsafe {
        let mut termios: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(0, &mut termios) == 0
            && let Ok(mut saved) = SAVED_TERMIOS.lock()
        {
            *saved = Some(termios);
        }
    }
    let (pipe, editor) = LineEditor::spawn().ok()?;
    reactor.register_stdin(pipe.as_raw_fd()).ok()?;
    Some((pipe, editor))
}

/// Opens fd 0 so the reactor can poll it without changing the descriptor the shell shares:
/// a fresh open of `/proc/self/fd/0` gives a private file description we may make
/// non-blocking. Regular files are read directly; sockets fall back to fd 0 itself.
fn open_input(reactor: &mut Reactor) -> io::Result<Input> {
    // SAFETY: fstat on fd 0 with a zeroed stat buffer.
    let is_regular = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        libc::fstat(0, &mut stat) == 0 && (stat.st_mode & libc::S_IFMT) == libc::S_IFREG
    };
    if is_regular {
        return Ok(Input::Regular);
    }
    if let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open("/proc/self/fd/0")
    {
        reactor.register_stdin(file.as_raw_fd())?;
        return Ok(Input::Private(file));
    }
    // SAFETY: fcntl on fd 0; the old flags are saved and restored by `restore_stdin`.
    unsafe {
        let flags = libc::fcntl(0, libc::F_GETFL);
        if flags >= 0 {
            SAVED_STDIN_FLAGS.store(flags, Ordering::Relaxed);
            libc::fcntl(0, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
    reactor.register_stdin(0)?;
    Ok(Input::Shared)
}
