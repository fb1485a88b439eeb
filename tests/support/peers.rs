//! Real peers for socket tests on 127.0.0.1 with kernel-chosen ports: Python 3 stdlib servers
//! (TCP and UDP echo, one-client scripts), Python `websockets` (Debian's python3-websockets,
//! which may belong to /usr/bin/python3 rather than the first python3 on PATH), free ports,
//! and the RSS of a process.

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::process::*;

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

/// Peak resident set size of a process in KiB (VmHWM from /proc/<pid>/status).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
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
