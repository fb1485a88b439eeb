//! The binary under test as a child process: spawning `plua` (to completion or left running),
//! temporary directories for scripts, collected output, waiting for lines, signals, and the
//! guard that turns a hang into a failure.

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Upper bound for any single run of the binary. Only there to turn a hang into a failure.
pub const GUARD: Duration = Duration::from_secs(20);

/// A `Command` for the binary under test, with a clean colour setup.
pub fn plua() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plua"));
    cmd.env_remove("NO_COLOR");
    cmd
}

/// A fresh, uniquely named directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("plua-test-{}-{}-{}", std::process::id(), n, nanos));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `name` (relative to the dir, parent dirs created) and returns the path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.path.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent dir");
        }
        std::fs::write(&p, contents).expect("write file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// What a finished run produced.
#[derive(Debug)]
pub struct Output {
    /// Exit code; `None` when the process was killed by a signal.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    fn new(status: ExitStatus, stdout: Vec<u8>, stderr: Vec<u8>, elapsed: Duration) -> Output {
        Output {
            code: status.code(),
            signal: status.signal(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            elapsed,
        }
    }

    /// Non-empty stdout lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().filter(|l| !l.is_empty()).collect()
    }

    /// Asserts the exit code, showing everything the process printed when it differs.
    pub fn assert_code(&self, expected: i32) -> &Output {
        assert_eq!(
            self.code,
            Some(expected),
            "unexpected exit (signal {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.signal,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts that the runtime did not panic (a Rust panic is never a valid way to report an error).
    pub fn assert_no_panic(&self) -> &Output {
        assert!(
            !self.stderr.contains("panicked"),
            "runtime panicked:\n{}",
            self.stderr
        );
        assert!(
            !self.stdout.contains("panicked"),
            "runtime panicked:\n{}",
            self.stdout
        );
        self
    }

    pub fn assert_stdout_contains(&self, needle: &str) -> &Output {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn assert_stderr_contains(&self, needle: &str) -> &Output {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts stdout is exactly these lines (ignoring empty lines).
    pub fn assert_lines(&self, expected: &[&str]) -> &Output {
        assert_eq!(self.lines(), expected, "\n--- stderr ---\n{}", self.stderr);
        self
    }
}

fn spawn_reader<R: Read + Send + 'static>(mut r: R, sink: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    })
}

fn text(buf: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

/// Runs `cmd` to completion, feeding `stdin` (or /dev/null), and fails the test if it takes
/// longer than `limit` (the child is killed first).
pub fn run_with_timeout(cmd: Command, stdin: Option<&[u8]>, limit: Duration) -> Output {
    let mut running = Running::start(cmd, stdin.is_some());
    if let Some(data) = stdin {
        let data = data.to_vec();
        let mut w = running.stdin.take().expect("stdin");
        // Written from a thread so a child that never reads cannot block us; dropped = EOF.
        thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    running.finish(limit)
}

/// Runs `cmd` with stdin from /dev/null under the default guard.
pub fn run(cmd: Command) -> Output {
    run_with_timeout(cmd, None, GUARD)
}

/// Runs `plua <args>` with the given bytes on stdin.
pub fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut cmd = plua();
    cmd.args(args);
    run_with_timeout(cmd, Some(stdin.as_bytes()), GUARD)
}

/// Writes `src` as `script.lua` into a fresh temp dir and runs `plua script.lua <args>` there.
pub fn run_script(src: &str, args: &[&str]) -> Output {
    run_named_script("script.lua", src, &[], args)
}

/// Writes `src` as `name` into a fresh temp dir and runs `plua <opts> <name> <args>` with the
/// temp dir as the working directory.
pub fn run_named_script(name: &str, src: &str, opts: &[&str], args: &[&str]) -> Output {
    let dir = TempDir::new();
    dir.write(name, src);
    let mut cmd = plua();
    cmd.current_dir(dir.path()).args(opts).arg(name).args(args);
    run(cmd)
}

/// Runs `plua <opts> script.lua` (script written to a fresh temp dir, which is the cwd).
pub fn run_script_with_opts(opts: &[&str], src: &str) -> Output {
    run_named_script("script.lua", src, opts, &[])
}

/// A child that is still running: stdout/stderr are collected in the background so tests can
/// wait for a line, talk to its stdin and send it signals.
pub struct Running {
    child: Child,
    pub stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    start: Instant,
    finished: bool,
}

impl Running {
    pub fn start(mut cmd: Command, piped_stdin: bool) -> Running {
        cmd.stdin(if piped_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let start = Instant::now();
        let mut child = cmd.spawn().expect("spawn plua");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            spawn_reader(child.stdout.take().unwrap(), stdout.clone()),
            spawn_reader(child.stderr.take().unwrap(), stderr.clone()),
        ];
        let stdin = child.stdin.take();
        Running {
            child,
            stdin,
            stdout,
            stderr,
            readers,
            start,
            finished: false,
        }
    }

    /// Spawns a script (already written into `dir`) with piped stdin.
    pub fn script(dir: &TempDir, opts: &[&str], name: &str) -> Running {
        let mut cmd = plua();
        cmd.current_dir(dir.path()).args(opts).arg(name);
        Running::start(cmd, true)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout_text(&self) -> String {
        text(&self.stdout)
    }

    pub fn stderr_text(&self) -> String {
        text(&self.stderr)
    }

    /// Writes one line (a newline is appended) to the child's stdin and flushes it.
    pub fn send_line(&mut self, line: &str) {
        let w = self.stdin.as_mut().expect("stdin is open");
        w.write_all(line.as_bytes())
            .and_then(|_| w.write_all(b"\n"))
            .and_then(|_| w.flush())
            .expect("write to plua stdin");
    }

    /// Closes the child's stdin (EOF).
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits until stdout (or stderr when `also_stderr`) contains `needle` `count` times.
    /// Fails if the child exits first or the guard expires.
    pub fn wait_for_count(&mut self, needle: &str, count: usize, also_stderr: bool) {
        loop {
            let mut seen = self.stdout_text().matches(needle).count();
            if also_stderr {
                seen += self.stderr_text().matches(needle).count();
            }
            if seen >= count {
                return;
            }
            let exited = matches!(self.child.try_wait(), Ok(Some(_)));
            if exited || self.start.elapsed() > GUARD {
                // Give the readers a moment to drain what the child wrote before it exited.
                thread::sleep(Duration::from_millis(100));
                let mut seen = self.stdout_text().matches(needle).count();
                if also_stderr {
                    seen += self.stderr_text().matches(needle).count();
                }
                if seen >= count {
                    return;
                }
                let why = if exited { "plua exited" } else { "timed out" };
                let _ = self.child.kill();
                panic!(
                    "{why} before printing {needle:?} {count} time(s)\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.stdout_text(),
                    self.stderr_text()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until stdout contains `needle`.
    pub fn wait_for_stdout(&mut self, needle: &str) {
        self.wait_for_count(needle, 1, false)
    }

    /// Waits until stdout or stderr contains `needle`.
    pub fn wait_for_output(&mut self, needle: &str) {
        self.wait_for_count(needle, 1, true)
    }

    /// Sends a signal by name (`INT`, `TERM`) with the system `kill` command.
    pub fn signal(&self, name: &str) {
        let st = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{name} failed");
    }

    /// Is the child still running?
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the child to exit (failing the test after `limit`) and returns its output.
    pub fn finish(mut self, limit: Duration) -> Output {
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) => {
                    if self.start.elapsed() > limit {
                        let _ = self.child.kill();
                        let _ = self.child.wait();
                        self.finished = true;
                        panic!(
                            "plua did not exit within {limit:?}; killed it\n--- stdout ---\n{}\n--- stderr ---\n{}",
                            self.stdout_text(),
                            self.stderr_text()
                        );
                    }
                    thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("waiting for plua: {e}"),
            }
        };
        self.finished = true;
        let elapsed = self.start.elapsed();
        self.stdin.take();
        for h in self.readers.drain(..) {
            let _ = h.join();
        }
        let stdout = std::mem::take(&mut *self.stdout.lock().unwrap());
        let stderr = std::mem::take(&mut *self.stderr.lock().unwrap());
        Output::new(status, stdout, stderr, elapsed)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Lua snippet that announces readiness on both streams (stdout may be buffered in a pipe).
pub const READY: &str =
    r#"print("ready") io.stdout:flush() io.stderr:write("ready\n") io.stderr:flush()"#;

impl Running {
    /// Spawns `plua name args...` (a script already written into `dir`), stdin piped.
    pub fn script_with_args(dir: &TempDir, name: &str, args: &[&str]) -> Running {
        let mut cmd = plua();
        cmd.current_dir(dir.path()).arg(name).args(args);
        Running::start(cmd, true)
    }

    /// Waits (guarded) for the first complete stdout line and returns it (without newline).
    pub fn first_line(&mut self) -> String {
        self.wait_for_stdout("\n");
        self.stdout_text().lines().next().unwrap_or("").to_owned()
    }

    /// Waits (guarded) for a stdout line starting with `prefix` and returns the rest of it.
    pub fn line_after(&mut self, prefix: &str) -> String {
        loop {
            let text = self.stdout_text();
            let complete = text.split_inclusive('\n').filter(|l| l.ends_with('\n'));
            for line in complete {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return rest.trim_end_matches(['\n', '\r']).to_owned();
                }
            }
            self.wait_for_count("\n", text.matches('\n').count() + 1, false);
        }
    }

    /// Kills the child (if still running) and returns what it printed.
    pub fn kill_and_collect(mut self) -> Output {
        let _ = self.child.kill();
        self.finish(GUARD)
    }
}

/// Asserts that stdout has a line exactly equal to `line`.
pub fn assert_has_line(out: &Output, line: &str) {
    assert!(
        out.lines().contains(&line),
        "stdout lacks the line {line:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.stdout,
        out.stderr
    );
}
