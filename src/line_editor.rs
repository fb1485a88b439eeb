//! Line editing for the REPL on a terminal: `rustyline` (history in `~/.plua_history`, tab
//! completion of globals and table fields) runs on its own thread, so the event loop keeps
//! running timers and servers while the user types. The thread reads one line per request
//! from the REPL and writes it, newline-terminated, into a pipe that the reactor polls like
//! standard input; the REPL's ordinary line handling takes it from there. Ctrl-C sends
//! [`CANCEL`] as a line; Ctrl-D (or a failing terminal) closes the pipe, which reads as the
//! end of input.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::FromRawFd;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Config, Context, Editor, Helper};

/// The line the editor sends when Ctrl-C cancelled what was being typed.
pub const CANCEL: &str = "\u{3}";

/// Names offered by tab completion, refreshed by the REPL before each prompt.
type Names = Arc<Mutex<Vec<String>>>;

/// The REPL's handle on the editor thread.
pub struct LineEditor {
    requests: Sender<String>,
    names: Names,
}

impl LineEditor {
    /// Starts the editor thread. Returns the pipe's read end (non-blocking, for the reactor)
    /// and the handle that asks for lines.
    pub fn spawn() -> io::Result<(File, LineEditor)> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills `fds` with two new descriptors that we own from here on.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and are owned by these files only.
        let (reader, writer) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
        // SAFETY: fcntl on the read end we own.
        unsafe {
            let flags = libc::fcntl(fds[0], libc::F_GETFL);
            libc::fcntl(fds[0], libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        let config = Config::builder().auto_add_history(false).build();
        let mut editor: Editor<Completion, DefaultHistory> =
            Editor::with_config(config).map_err(io::Error::other)?;
        let names: Names = Arc::default();
        editor.set_helper(Some(Completion {
            names: names.clone(),
        }));
        let (requests, receiver) = mpsc::channel();
        std::thread::Builder::new()
            .name("repl-editor".into())
            .spawn(move || edit_lines(editor, receiver, writer))?;
        Ok((reader, LineEditor { requests, names }))
    }

    /// Shows `prompt` and reads one line; `names` are what tab completion offers meanwhile.
    pub fn read_line(&self, prompt: &str, names: Vec<String>) {
        if let Ok(mut current) = self.names.lock() {
            *current = names;
        }
        let _ = self.requests.send(prompt.to_owned());
    }
}

fn history_file() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(|home| PathBuf::from(home).join(".plua_history"))
}

/// The editor thread: one line per request, into `out`, until Ctrl-D or the REPL ends.
fn edit_lines(
    mut editor: Editor<Completion, DefaultHistory>,
    requests: Receiver<String>,
    mut out: File,
) {
    let history = history_file();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    while let Ok(prompt) = requests.recv() {
        let line = match editor.readline(&prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                    if let Some(path) = &history {
                        let _ = editor.save_history(path);
                    }
                }
                line
            }
            Err(ReadlineError::Interrupted) => CANCEL.to_owned(),
            Err(_) => return,
        };
        if out.write_all(format!("{line}\n").as_bytes()).is_err() {
            return;
        }
    }
}

/// Tab completion of dotted names (`string.fo` → `string.format`).
struct Completion {
    names: Names,
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let names = self.names.lock().map(|n| n.clone()).unwrap_or_default();
        let mut found: Vec<&String> = names.iter().filter(|n| n.starts_with(word)).collect();
        found.sort();
        found.dedup();
        let pairs = found
            .into_iter()
            .map(|name| Pair {
                display: name.clone(),
                replacement: name.clone(),
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for Completion {
    type Hint = String;
}

impl Highlighter for Completion {}

impl Validator for Completion {}

impl Helper for Completion {}
