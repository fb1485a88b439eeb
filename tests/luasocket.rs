//! `require("socket")`: the blocking LuaSocket-compatible subset (SPEC §6), exercised against
//! real peers: small Python servers and clients on 127.0.0.1 with kernel-chosen ports.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use support::{GUARD, Running, TempDir, python_server, run_script};

/// A Python peer process; killed when dropped so a failing test never leaves it behind.
struct Peer {
    child: Child,
    stdout: Arc<Mutex<String>>,
    reader: Option<thread::JoinHandle<()>>,
    first_line: String,
}

impl Peer {
    /// Spawns `python3 -c code`, waits (guarded) for the first line it prints and returns.
    fn spawn(code: &str, args: &[&str]) -> Peer {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(code)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn python3");
        let stdout = child.stdout.take().expect("python stdout");
        let collected = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = collected.clone();
        let reader = thread::spawn(move || {
            let mut lines = BufReader::new(stdout);
            let mut first = String::new();
            let _ = lines.read_line(&mut first);
            let _ = tx.send(first);
            let mut rest = String::new();
            let _ = lines.read_to_string(&mut rest);
            sink.lock().unwrap().push_str(&rest);
        });
        let mut peer = Peer {
            child,
            stdout: collected,
            reader: Some(reader),
            first_line: String::new(),
        };
        peer.first_line = rx
            .recv_timeout(GUARD)
            .expect("python peer printed its first line")
            .trim()
            .to_owned();
        assert!(
            !peer.first_line.is_empty(),
            "python peer exited before printing anything"
        );
        peer
    }

    /// A Python server on 127.0.0.1 port 0 that accepts one client as `c` and runs `body`.
    fn server(body: &str) -> Peer {
        let code = format!(
            "import socket, sys, hashlib\n\
             s = socket.socket()\n\
             s.bind(('127.0.0.1', 0))\n\
             s.listen(1)\n\
             s.settimeout(15)\n\
             print(s.getsockname()[1], flush=True)\n\
             c, _ = s.accept()\n\
             c.settimeout(15)\n\
             {body}\n\
             c.close()\n"
        );
        Peer::spawn(&code, &[])
    }

    fn port(&self) -> String {
        let port: u16 = self.first_line.parse().expect("python printed a port");
        assert!(port > 0);
        port.to_string()
    }

    /// Waits (guarded) for the peer to exit; returns its exit code and the rest of its stdout.
    fn finish(mut self) -> (Option<i32>, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for python") {
                break status;
            }
            if start.elapsed() > GUARD {
                let _ = self.child.kill();
                panic!("python peer did not exit within {GUARD:?}");
            }
            thread::sleep(Duration::from_millis(10));
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let out = std::mem::take(&mut *self.stdout.lock().unwrap());
        (status.code(), out)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn connect_send_and_receive_lines_counts_and_all() {
    let peer = Peer::server(
        "line = b''\n\
         while not line.endswith(b'\\n'):\n\
         \x20   chunk = c.recv(100)\n\
         \x20   if not chunk: break\n\
         \x20   line += chunk\n\
         c.sendall(b'got ' + line)\n\
         c.sendall(b'first\\r\\nsecond\\n0123456789tail of the stream')\n",
    );
    let out = run_script(
        r#"
local socket = require("socket")
local c = socket.tcp()
print(tostring(c):match("^tcp{master}: 0x%x+$") ~= nil)
print("connect", c:connect("127.0.0.1", tonumber(arg[1])))
print(tostring(c):match("^tcp{client}: 0x%x+$") ~= nil)
print("send", c:send("hello peer\n"))
print("l1", c:receive("*l"))
print("l2", c:receive("*l"))
print("l3", c:receive("l"))
print("n", c:receive(4))
print("prefix", c:receive(6, "pre-"))
print("all", c:receive("*a"))
print("after", c:receive("*a"))
print("peer", c:getpeername())
print("close", c:close(), c:close())
"#,
        &[&peer.port()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "true",
        "connect\t1",
        "true",
        "send\t11",
        "l1\tgot hello peer",
        "l2\tfirst",
        "l3\tsecond",
        "n\t0123",
        "prefix\tpre-456789",
        "all\ttail of the stream",
        "after\tnil\tclosed\t",
        &format!("peer\t127.0.0.1\t{}\tinet", peer.port()),
        "close\t1\t1",
    ]);
    assert_eq!(peer.finish().0, Some(0));
}

#[test]
fn receive_reports_closed_with_the_partial_data() {
    let peer = Peer::server("c.sendall(b'no newline at the end')\n");
    let out = run_script(
        r#"
local socket = require("socket")
local c = assert(socket.connect("127.0.0.1", tonumber(arg[1])))
c:settimeout(10)
print(c:receive("*l"))
print(c:receive(5))
"#,
        &[&peer.port()],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["nil\tclosed\tno newline at the end", "nil\tclosed\t"]);
    assert_eq!(peer.finish().0, Some(0));
}

#[test]
fn a_megabyte_with_every_byte_value_round_trips() {
    // The peer checks the bytes it got against the same formula, answers OK or BAD, then
    // sends the data back; plua compares what it gets with what it sent.
    let peer = Peer::server(
        "n = 1 << 20\n\
         expected = bytes((i * 7 + i // 256) % 256 for i in range(n))\n\
         data = bytearray()\n\
         while len(data) < n:\n\
         \x20   chunk = c.recv(65536)\n\
         \x20   if not chunk: break\n\
         \x20   data += chunk\n\
         c.sendall(b'OK\\n' if bytes(data) == expected else b'BAD\\n')\n\
         c.sendall(bytes(data))\n\
         print(hashlib.sha256(data).hexdigest(), flush=True)\n",
    );
    let out = run_script(
        r#"
local socket = require("socket")
local n = 1 << 20
local parts = {}
for i = 0, n - 1 do parts[#parts + 1] = string.char((i * 7 + i // 256) % 256) end
local payload = table.concat(parts)
local seen = {}
for i = 1, 4096 do seen[payload:byte(i)] = true end
local distinct = 0
for _ in pairs(seen) do distinct = distinct + 1 end
print("distinct", distinct)
local c = assert(socket.connect("127.0.0.1", tonumber(arg[1])))
c:settimeout(10)
print("sent", c:send(payload))
print("verdict", c:receive("*l"))
local back, err, partial = c:receive(n)
print("length", back and #back, err, partial and #partial)
print("equal", back == payload)
local sum = 0
for i = 1, #back, 97 do sum = (sum * 31 + back:byte(i)) % 1000000007 end
local want = 0
for i = 1, #payload, 97 do want = (want * 31 + payload:byte(i)) % 1000000007 end
print("checksum", sum == want)
c:close()
"#,
        &[&peer.port()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "distinct\t256",
        "sent\t1048576",
        "verdict\tOK",
        "length\t1048576\tnil\tnil",
        "equal\ttrue",
        "checksum\ttrue",
    ]);
    let (code, digest) = peer.finish();
    assert_eq!(code, Some(0));
    assert_eq!(digest.trim().len(), 64, "python printed its digest");
}

#[test]
fn settimeout_gives_timeout_when_the_peer_is_silent() {
    // The peer sends nothing and waits for the client to go away.
    let peer = Peer::server("c.recv(1)\n");
    let out = run_script(
        r#"
local socket = require("socket")
local c = assert(socket.connect("127.0.0.1", tonumber(arg[1])))
print(c:settimeout(0.2))
local t0 = socket.gettime()
print(c:receive("*l"))
local waited = socket.gettime() - t0
print("waited", waited >= 0.15)
print(c:receive(10, "p:"))
c:settimeout(0)
print(c:receive("*a"))
print(c:dirty())
c:close()
"#,
        &[&peer.port()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "1",
        "nil\ttimeout\t",
        "waited\ttrue",
        "nil\ttimeout\tp:",
        "nil\ttimeout\t",
        "false",
    ]);
    assert_eq!(peer.finish().0, Some(0));
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("local addr").port()
    };
    let out = run_script(
        r#"
local socket = require("socket")
local c = socket.tcp()
c:settimeout(5)
print(c:connect("127.0.0.1", tonumber(arg[1])))
print(socket.connect("127.0.0.1", tonumber(arg[1])))
print(c:close())
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "nil\tconnection refused",
        "nil\tconnection refused",
        "1",
    ]);
}

#[test]
fn select_reports_readiness() {
    // The peer answers only after it gets "go".
    let peer = Peer::server(
        "buf = b''\n\
         while b'\\n' not in buf:\n\
         \x20   chunk = c.recv(10)\n\
         \x20   if not chunk: break\n\
         \x20   buf += chunk\n\
         c.sendall(b'ready\\n' if buf == b'go\\n' else b'what\\n')\n\
         c.recv(1)\n",
    );
    let out = run_script(
        r#"
local socket = require("socket")
local c = assert(socket.connect("127.0.0.1", tonumber(arg[1])))
c:settimeout(10)
local r, w, err = socket.select({c}, nil, 0.2)
print("idle", #r, #w, err)
r, w, err = socket.select(nil, {c}, 5)
print("writable", #r, #w, w[1] == c, w[c], err)
c:send("go\n")
r, w, err = socket.select({c}, {}, 5)
print("readable", #r, r[1] == c, r[c], err)
print(c:receive())
r, w, err = socket.select({}, {}, 0.05)
print("empty", #r, #w, err)
c:close()
"#,
        &[&peer.port()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "idle\t0\t0\ttimeout",
        "writable\t0\t1\ttrue\t1\tnil",
        "readable\t1\ttrue\t1\tnil",
        "ready",
        "empty\t0\t0\ttimeout",
    ]);
    assert_eq!(peer.finish().0, Some(0));
}

#[test]
fn plua_listens_and_python_connects() {
    let dir = TempDir::new();
    dir.write(
        "server.lua",
        r#"
local socket = require("socket")
local server = assert(socket.bind("127.0.0.1", 0))
server:settimeout(15)
local ip, port = server:getsockname()
print(tostring(server):match("^tcp{server}: ") ~= nil, ip)
print("PORT " .. port)
io.stdout:flush()
local client, err = server:accept()
assert(client, err)
client:settimeout(15)
print("peer", (client:getpeername()))
local line = client:receive("*l")
print("got", line)
print("sent", client:send("echo:" .. line .. "\n"))
client:close()
server:close()
"#,
    );
    let mut plua = Running::script(&dir, &[], "server.lua");
    plua.wait_for_stdout("PORT ");
    let text = plua.stdout_text();
    let port = text
        .lines()
        .find_map(|line| line.strip_prefix("PORT "))
        .expect("port line")
        .trim()
        .to_owned();
    let client = Peer::spawn(
        "import socket, sys\n\
         c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=15)\n\
         print('connected', flush=True)\n\
         c.sendall(b'hi from python\\r\\n')\n\
         data = b''\n\
         while not data.endswith(b'\\n'):\n\
         \x20   chunk = c.recv(100)\n\
         \x20   if not chunk: break\n\
         \x20   data += chunk\n\
         print(data.decode().strip(), flush=True)\n",
        &[&port],
    );
    assert_eq!(client.first_line, "connected");
    let (code, reply) = client.finish();
    assert_eq!(code, Some(0));
    assert_eq!(reply.trim(), "echo:hi from python");
    let out = plua.finish(GUARD);
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "true\t127.0.0.1",
        &format!("PORT {port}"),
        "peer\t127.0.0.1",
        "got\thi from python",
        "sent\t20",
    ]);
}

#[test]
fn non_blocking_connect_options_and_send_ranges_without_a_peer_process() {
    let out = run_script(
        r#"
local socket = require("socket")
local server = assert(socket.bind("127.0.0.1", 0))
local _, port = server:getsockname()
local c = socket.tcp()
print("opt", c:setoption("tcp-nodelay", true), c:setoption("keepalive", true))
print("bad opt", c:setoption("broadcast", true))
c:settimeout(0)
local ok, err = c:connect("127.0.0.1", port)
if not ok then
  assert(err == "timeout", err)
  local _, w = socket.select(nil, {c}, 5)
  assert(w[1] == c)
  ok, err = c:connect("127.0.0.1", port)
end
print("connected", ok, err)
print("again", c:connect("127.0.0.1", port))
print("getopt", c:getoption("tcp-nodelay"), c:getoption("keepalive"))
server:settimeout(5)
local a = assert(server:accept())
a:settimeout(5)
print("range", c:send("abcdef", 2, 4), c:send("xyz", -1), c:send("", 1))
print(a:receive(4))
c:send("one\ntwo\n")
print(a:receive("*l"), a:dirty(), a:receive("*l"), a:dirty())
c:shutdown("send")
print(a:receive("*a"))
print("sleep", socket.sleep(0.01), type(socket.gettime()))
print("skip", socket.skip(1, "a", "b"))
print("protect", socket.protect(function() socket.try(nil, "boom") end)())
a:close() c:close() server:close()
print("closed", c:send("x"))
print(c:getfd(), server:getfd())
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "opt\t1\t1",
        "bad opt\tnil\tunsupported option",
        "connected\t1\tnil",
        "again\tnil\talready connected",
        "getopt\ttrue\ttrue",
        "range\t4\t3\t0",
        "bcdz",
        "one\ttrue\ttwo\tfalse",
        "nil\tclosed\t",
        "sleep\tnil\tnumber",
        "skip\tb",
        "protect\tnil\tboom",
        "closed\tnil\tclosed\t0",
        "-1\t-1",
    ]);
}

#[test]
fn wrong_argument_types_are_errors_naming_the_method() {
    for (call, needle) in [
        (
            "socket.tcp():connect({}, 1)",
            "tcp:connect: bad argument #1 (string expected, got table)",
        ),
        (
            "socket.tcp():connect('127.0.0.1', 'x')",
            "tcp:connect: bad argument #2 (port expected, got string)",
        ),
        (
            "socket.tcp():receive()",
            "tcp:receive: calling on bad self (tcp{client} expected, got tcp{master})",
        ),
        (
            "local s = socket.tcp() s.settimeout(42)",
            "tcp:settimeout: calling on bad self (tcp{any} expected, got integer)",
        ),
        (
            "socket.tcp():settimeout({})",
            "tcp:settimeout: bad argument #1 (number expected, got table)",
        ),
        (
            "socket.sleep('soon')",
            "socket.sleep: bad argument #1 (number expected, got string)",
        ),
        (
            "socket.select(1, nil, 0)",
            "socket.select: bad argument #1 (table expected, got integer)",
        ),
    ] {
        let out = run_script(&format!("local socket = require('socket')\n{call}\n"), &[]);
        out.assert_code(1)
            .assert_no_panic()
            .assert_stderr_contains(needle)
            .assert_stderr_contains("script.lua:2:");
    }
}

#[test]
fn an_endless_line_and_a_huge_count_are_refused_without_buffering_forever() {
    let (_peer, port) = python_server(
        "
import socket, time
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen()
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
try:
    for _ in range(64):
        c.sendall(b'x' * 65536)
    time.sleep(5)
except OSError:
    pass
",
        &[],
    );
    let out = run_script(
        &format!(
            "local socket = require('socket')\n\
             local tcp = socket.tcp()\n\
             tcp:settimeout(5)\n\
             assert(tcp:connect('127.0.0.1', {port}))\n\
             print('huge', tcp:receive(2^40))\n\
             print('line', tcp:receive('*l'))\n\
             tcp:close()\n"
        ),
        &[],
    );
    out.assert_no_panic().assert_code(0);
    out.assert_stdout_contains("huge\tnil\tread too large");
    out.assert_stdout_contains("line\tnil\tline too long");
}
