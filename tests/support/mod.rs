//! Shared helpers for the end-to-end tests: every test spawns the real `plua` binary as a child
//! process, writes its Lua scripts into a fresh temporary directory and guards every run with a
//! generous timeout so that a hanging runtime fails the test instead of hanging the suite.
#![allow(dead_code)]

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

// ---------------------------------------------------------------------------------------------
// Socket tests: real peers (Python 3 stdlib, openssl) on 127.0.0.1 with kernel-chosen ports.
// ---------------------------------------------------------------------------------------------

/// Spawns `python3 -c code args...` with piped stdin, collecting its output like a plua child
/// (killed when dropped). Peers print their port (or "ready") as their first line.
pub fn python(code: &str, args: &[&str]) -> Running {
    python_with("python3", code, args)
}

/// Spawns `interpreter -u -c code args...` with piped stdin.
fn python_with(interpreter: &str, code: &str, args: &[&str]) -> Running {
    let mut cmd = Command::new(interpreter);
    cmd.arg("-u").arg("-c").arg(code).args(args);
    Running::start(cmd, true)
}

/// Spawns `python3 -c code args` and waits for its first line, which must be a port number.
pub fn python_server(code: &str, args: &[&str]) -> (Running, u16) {
    with_port(python(code, args))
}

/// Waits for `peer`'s first line, which must be a port number.
fn with_port(mut peer: Running) -> (Running, u16) {
    let first = peer.first_line();
    let port: u16 = first.trim().parse().unwrap_or_else(|_| {
        panic!(
            "python peer printed {first:?}, not a port\n{}",
            peer.stderr_text()
        )
    });
    assert!(port > 0);
    (peer, port)
}

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

/// Python: a threaded TCP echo server on 127.0.0.1:0 (prints its port; echoes every chunk of
/// every client until that client closes; runs until killed).
pub const PY_TCP_ECHO: &str = r#"
import socketserver
class H(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            d = self.request.recv(65536)
            if not d:
                break
            self.request.sendall(d)
class S(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
s = S(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// Python: a UDP echo server on 127.0.0.1:0 (prints its port, then for every datagram prints
/// `from <port>` and sends `echo:` + data back to the sender).
pub const PY_UDP_ECHO: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 0))
print(s.getsockname()[1], flush=True)
while True:
    d, a = s.recvfrom(65536)
    print('from', a[1], flush=True)
    s.sendto(b'echo:' + d, a)
"#;

/// A port that was free a moment ago (bound on 127.0.0.1:0 and released). Only for peers that
/// cannot report the port they bound themselves (`openssl s_server`) or for "refused" tests.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// Waits (up to `limit`) until something accepts TCP connections on 127.0.0.1:port.
pub fn wait_until_accepting(port: u16, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Resident set size of a process in KiB (VmRSS from /proc/<pid>/status).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Python: a server on 127.0.0.1:0 that prints its port, accepts one client as `c` (15 s
/// timeouts), runs `body` (Python, unindented) and closes the client. `recv_exact(n)` and
/// `recv_line()` helpers are in scope.
pub fn python_one_client_server(body: &str) -> (Running, u16) {
    let code = format!(
        "import socket, sys, time, hashlib\n\
         s = socket.socket()\n\
         s.bind(('127.0.0.1', 0))\n\
         s.listen(1)\n\
         s.settimeout(15)\n\
         print(s.getsockname()[1], flush=True)\n\
         c, _ = s.accept()\n\
         c.settimeout(15)\n\
         buf = bytearray()\n\
         def recv_exact(n):\n\
         \x20   global buf\n\
         \x20   while len(buf) < n:\n\
         \x20       d = c.recv(65536)\n\
         \x20       if not d: break\n\
         \x20       buf += d\n\
         \x20   out, buf = bytes(buf[:n]), buf[n:]\n\
         \x20   return out\n\
         def recv_line():\n\
         \x20   global buf\n\
         \x20   while b'\\n' not in buf:\n\
         \x20       d = c.recv(65536)\n\
         \x20       if not d: break\n\
         \x20       buf += d\n\
         \x20   i = buf.find(b'\\n') + 1 or len(buf)\n\
         \x20   out, buf = bytes(buf[:i]), buf[i:]\n\
         \x20   return out\n\
         {body}\n\
         c.close()\n"
    );
    python_server(&code, &[])
}

// ---------------------------------------------------------------------------------------------
// HTTP server tests: a plua server script that prints `port=N`, peers are curl, Python's
// http.client and raw sockets.
// ---------------------------------------------------------------------------------------------

/// Writes `src` as `server.lua` into a fresh temp dir, runs it (no `--run-for`: the server keeps
/// the process alive until it is stopped or killed) and waits for its `port=N` line.
pub fn start_http_server(src: &str) -> (TempDir, Running, u16) {
    let dir = TempDir::new();
    dir.write("server.lua", src);
    let mut server = Running::script_with_args(&dir, "server.lua", &[]);
    let port = server.line_after("port=");
    let port: u16 = port.trim().parse().unwrap_or_else(|_| {
        panic!(
            "server printed port={port:?}\n--- stderr ---\n{}",
            server.stderr_text()
        )
    });
    assert!(port > 0);
    (dir, server, port)
}

/// Lua source of a server script: `handler` is a Lua function expression, `opts` a Lua table
/// expression (or `nil`). The script prints `port=N` and flushes; the server id is the global
/// `server_id`.
pub fn http_server_script(handler: &str, opts: &str) -> String {
    format!(
        "local handler = {handler}\n\
         local id, port = _PY.http_server_start(\"127.0.0.1\", 0, handler, {opts})\n\
         if not id then error(\"http_server_start failed: \" .. tostring(port)) end\n\
         server_id = id\n\
         print(\"port=\" .. port)\n\
         io.stdout:flush()\n"
    )
}

/// Runs `curl <args>` (with `--max-time 15`) under the guard and returns its output.
pub fn curl(args: &[&str]) -> Output {
    let mut cmd = Command::new("curl");
    cmd.arg("--max-time").arg("15").args(args);
    run_with_timeout(cmd, None, GUARD)
}

/// A `curl -i` style response split into parts; interim `1xx` responses are kept apart.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status line, e.g. `HTTP/1.1 200 OK`.
    pub status_line: String,
    pub status: u16,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Status codes of interim (1xx) responses that came before this one.
    pub interim: Vec<u16>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn parse_status_and_headers(head: &str) -> (String, u16, Vec<(String, String)>) {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("").to_owned();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter(|line| !line.is_empty())
        .filter_map(|line| {
            line.split_once(':')
                .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect();
    (status_line, status, headers)
}

/// Splits the stdout of `curl -i` (one request) into head and body, skipping interim 1xx blocks.
pub fn parse_curl_i(out: &[u8]) -> HttpResponse {
    let mut rest = out;
    let mut interim = Vec::new();
    loop {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| {
                panic!(
                    "no header end in curl output: {:?}",
                    String::from_utf8_lossy(out)
                )
            });
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let (status_line, status, headers) = parse_status_and_headers(&head);
        rest = &rest[end + 4..];
        if (100..200).contains(&status) {
            interim.push(status);
            continue;
        }
        return HttpResponse {
            status_line,
            status,
            headers,
            body: rest.to_vec(),
            interim,
        };
    }
}

/// Connects to 127.0.0.1:port with 10 s read and write timeouts.
pub fn raw_connect(port: u16) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to server");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set read timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .expect("set write timeout");
    stream
}

/// Reads one response off `reader` (`Content-Length` framing; a response without it runs to
/// end of stream). Interim 1xx responses are collected in `interim`. `Ok(None)` at a clean end
/// of stream before any byte of a response.
pub fn read_http_response<R: std::io::BufRead>(
    reader: &mut R,
    head_only: bool,
) -> std::io::Result<Option<HttpResponse>> {
    let mut interim = Vec::new();
    loop {
        let mut head = String::new();
        loop {
            let mut line = Vec::new();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                if head.is_empty() {
                    return Ok(None);
                }
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("end of stream inside a response head: {head:?}"),
                ));
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if line == "\r\n" || line == "\n" {
                break;
            }
            head.push_str(&line);
        }
        let (status_line, status, headers) = parse_status_and_headers(head.trim_end());
        if (100..200).contains(&status) {
            interim.push(status);
            continue;
        }
        let mut response = HttpResponse {
            status_line,
            status,
            headers,
            body: Vec::new(),
            interim,
        };
        let bodiless = head_only || status == 204 || status == 304;
        if !bodiless {
            match response.header("content-length").map(str::to_owned) {
                Some(length) => {
                    let length: usize = length.parse().map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "bad Content-Length")
                    })?;
                    response.body = vec![0; length];
                    reader.read_exact(&mut response.body)?;
                }
                None => {
                    reader.read_to_end(&mut response.body)?;
                }
            }
        }
        return Ok(Some(response));
    }
}

/// Reads until the peer closes (or the socket's read timeout ends it). Returns the bytes and
/// whether a clean end of stream (or reset) was seen rather than a timeout.
pub fn read_until_closed(stream: &mut std::net::TcpStream) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (data, true),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return (data, false);
            }
            Err(_) => return (data, true),
        }
    }
}

/// A throw-away PKI in a temp dir, made with the openssl CLI: ca.pem (+ ca.key) and server.pem /
/// server.key signed by it, valid for DNS:localhost and IP:127.0.0.1.
pub struct Pki {
    dir: TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = TempDir::new();
        dir.write(
            "ext.cnf",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n\
             basicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\n",
        );
        let steps: [&[&str]; 3] = [
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=plua http test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        ];
        for args in steps {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .output()
                .expect("run openssl");
            assert!(
                out.status.success(),
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Pki { dir }
    }

    pub fn path(&self, name: &str) -> String {
        let p: PathBuf = self.dir.path().join(name);
        p.to_str().unwrap().to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// WebSocket tests: Python `websockets` peers (Debian's python3-websockets, which may belong to
// /usr/bin/python3 rather than the first python3 on PATH).
// ---------------------------------------------------------------------------------------------

/// A python3 interpreter that can `import websockets`: `python3` from PATH if it can, else
/// `/usr/bin/python3`. Fails the test when neither can.
pub fn websockets_python() -> &'static str {
    static FOUND: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    let found = FOUND.get_or_init(|| {
        ["python3", "/usr/bin/python3"].into_iter().find(|py| {
            Command::new(py)
                .args(["-c", "import websockets"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|st| st.success())
        })
    });
    found.expect("no python3 can import websockets (apt-get install python3-websockets)")
}

/// Like `python`, with an interpreter that has the `websockets` module.
pub fn python_ws(code: &str, args: &[&str]) -> Running {
    python_with(websockets_python(), code, args)
}

/// Like `python_server` (first stdout line = port), with an interpreter that has `websockets`.
pub fn python_ws_server(code: &str, args: &[&str]) -> (Running, u16) {
    with_port(python_ws(code, args))
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
