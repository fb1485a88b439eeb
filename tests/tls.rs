//! TLS on the `_PY` TCP family: a plua client against `openssl s_server` (certificates made
//! with the openssl CLI at test time: a CA and a server certificate for localhost/127.0.0.1),
//! and a plua TLS server against a Python `ssl` client.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{
    GUARD, Pki, Running, TempDir, free_port, python, run_named_script, wait_until_accepting,
};

/// `openssl s_server -rev` (answers every line with the line reversed) on 127.0.0.1, one
/// client at a time. Returns the running server and its port once it accepts connections.
fn s_server(pki: &Pki) -> (Running, u16) {
    for _ in 0..5 {
        let port = free_port();
        let mut cmd = Command::new("openssl");
        cmd.args(["s_server", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .args([
                "-cert",
                &pki.path("server.pem"),
                "-key",
                &pki.path("server.key"),
            ])
            .args(["-rev", "-quiet"]);
        let mut server = Running::start(cmd, true);
        if wait_until_accepting(port, Duration::from_secs(10)) && server.is_running() {
            return (server, port);
        }
        // The port was taken in between (or s_server failed): try another one.
        let _ = server.kill_and_collect();
    }
    panic!("could not start openssl s_server");
}

fn run_client(src: &str, pki: &Pki, port: u16) -> support::Output {
    run_named_script(
        "client.lua",
        src,
        &[],
        &[&pki.path("ca.pem"), &port.to_string()],
    )
}

#[test]
fn tls_client_with_the_ca_exchanges_lines_with_openssl_s_server() {
    let pki = Pki::new();
    let (server, port) = s_server(&pki);
    let out = run_client(
        r#"
local ca, port = arg[1], tonumber(arg[2])
for _, host in ipairs({"localhost", "127.0.0.1"}) do
  local ok, id, msg = _PY.tcp_connect_sync(host, port, {tls = true, cafile = ca, timeout = 10})
  print(host, ok, msg)
  print(_PY.tcp_write_sync(id, "hello tls\n"))
  print(_PY.tcp_read_sync(id, "*l"))
  print(_PY.tcp_close_sync(id))
end
"#,
        &pki,
        port,
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines.len(), 8, "{}\n{}", out.stdout, out.stderr);
    for (i, host) in ["localhost", "127.0.0.1"].iter().enumerate() {
        let l = &lines[i * 4..i * 4 + 4];
        assert_eq!(l[0], format!("{host}\ttrue\tConnected to 127.0.0.1:{port}"));
        assert_eq!(l[1], "true\t10\tSent 10 bytes");
        assert_eq!(l[2], "true\tslt olleh\tReceived 9 bytes");
        assert!(l[3].starts_with("true\tConnection "), "{l:?}");
    }
    server.kill_and_collect();
}

#[test]
fn tls_async_connect_with_callbacks() {
    let pki = Pki::new();
    let (_server, port) = s_server(&pki);
    let out = run_client(
        r#"
local ca, port = arg[1], tonumber(arg[2])
_PY.tcp_connect("localhost", port, function(ok, id, msg)
  print("connect", ok, msg)
  _PY.tcp_write(id, "abc\n", function(ok, n)
    print("write", ok, n)
    _PY.tcp_read_until(id, "\n", 100, function(ok, data)
      print("read", ok, (data:gsub("\n", "|")))
      _PY.tcp_close(id)
    end)
  end)
end, {tls = true, cafile = ca, timeout = 10})
"#,
        &pki,
        port,
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        &format!("connect\ttrue\tConnected to 127.0.0.1:{port}"),
        "write\ttrue\t4",
        "read\ttrue\tcba|",
    ]);
}

#[test]
fn tls_without_the_ca_fails_with_a_certificate_error() {
    let pki = Pki::new();
    let (_server, port) = s_server(&pki);
    let out = run_client(
        r#"
local ok, id, msg = _PY.tcp_connect_sync("localhost", tonumber(arg[2]), {tls = true, timeout = 10})
print(ok, id, msg:lower():find("certificate", 1, true) ~= nil, msg)
"#,
        &pki,
        port,
    );
    out.assert_code(0).assert_no_panic();
    assert!(
        out.stdout.starts_with("false\tnil\ttrue\t"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn tls_with_a_wrong_server_name_fails() {
    let pki = Pki::new();
    let (_server, port) = s_server(&pki);
    let out = run_client(
        r#"
local ok, id, msg = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[2]),
  {tls = true, cafile = arg[1], servername = "wrong.example", timeout = 10})
local m = msg:lower()
print(ok, id, m:find("certificate", 1, true) ~= nil or m:find("name", 1, true) ~= nil, msg)
"#,
        &pki,
        port,
    );
    out.assert_code(0).assert_no_panic();
    assert!(
        out.stdout.starts_with("false\tnil\ttrue\t"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn tls_with_verify_false_connects_without_the_ca() {
    let pki = Pki::new();
    let (_server, port) = s_server(&pki);
    let out = run_client(
        r#"
local ok, id, msg = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[2]), {tls = true, verify = false, timeout = 10})
print(ok, msg)
print(_PY.tcp_write_sync(id, "no verify\n"))
print(_PY.tcp_read_sync(id, "*l"))
_PY.tcp_close_sync(id)
"#,
        &pki,
        port,
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        &format!("true\tConnected to 127.0.0.1:{port}"),
        "true\t10\tSent 10 bytes",
        "true\tyfirev on\tReceived 9 bytes",
    ]);
}

/// A plua TLS server answering every chunk with "TLS:" .. upper-cased chunk; prints its port
/// and exits after `clients` clients disconnected.
fn plua_tls_server(pki: &Pki, dir: &TempDir, clients: u32) -> (Running, String) {
    dir.write(
        "server.lua",
        r#"
local srv = _PY.tcp_server_create()
local served, clients = 0, tonumber(arg[3])
_PY.tcp_server_add_event_listener(srv, "data_received", function(id, data)
  print("data", #data)
  _PY.tcp_write(id, "TLS:" .. data:upper(), function(ok, n, msg) print("write", ok, n, msg) end)
end)
_PY.tcp_server_add_event_listener(srv, "client_disconnected", function(id, addr)
  served = served + 1
  print("served", served)
  if served == clients then _PY.tcp_server_close(srv) end
end)
local ok, msg, port = _PY.tcp_server_start(srv, "127.0.0.1", 0, {tls = {cert = arg[1], key = arg[2]}})
print("start", ok, msg)
print("port=" .. tostring(port))
"#,
    );
    let mut server = Running::script_with_args(
        dir,
        "server.lua",
        &[
            &pki.path("server.pem"),
            &pki.path("server.key"),
            &clients.to_string(),
        ],
    );
    let port = server.line_after("port=");
    (server, port)
}

/// Python ssl client verifying against the CA; sleeps `pause` seconds after the handshake,
/// sends a line and prints the reply.
fn python_ssl_client(pki: &Pki, port: &str, pause: &str) -> support::Output {
    python(
        "import socket, ssl, sys, time\n\
         ctx = ssl.create_default_context(cafile=sys.argv[1])\n\
         raw = socket.create_connection(('127.0.0.1', int(sys.argv[2])), timeout=5)\n\
         c = ctx.wrap_socket(raw, server_hostname='localhost')\n\
         if float(sys.argv[3]) > 0: time.sleep(float(sys.argv[3]))\n\
         c.sendall(b'secret data\\n')\n\
         print('version', c.version().startswith('TLS'), flush=True)\n\
         data = b''\n\
         while not data.endswith(b'\\n'):\n\
         \x20   d = c.recv(100)\n\
         \x20   if not d: break\n\
         \x20   data += d\n\
         print('reply', data.decode().strip(), flush=True)\n\
         c.close()\n",
        &[&pki.path("ca.pem"), port, pause],
    )
    .finish(GUARD)
}

fn check_python_client(client: &support::Output, server: &Running) {
    assert!(
        client.code == Some(0) && client.lines() == ["version True", "reply TLS:SECRET DATA"],
        "python ssl client failed\n--- client stdout ---\n{}\n--- client stderr ---\n{}\n\
         --- plua server stdout ---\n{}\n--- plua server stderr ---\n{}",
        client.stdout,
        client.stderr,
        server.stdout_text(),
        server.stderr_text()
    );
}

#[test]
fn plua_tls_server_talks_to_a_python_ssl_client() {
    // The client sends right after the handshake, as most clients do: the request may arrive
    // in the same segment as the end of the handshake.
    let pki = Pki::new();
    let dir = TempDir::new();
    let (server, port) = plua_tls_server(&pki, &dir, 1);
    let client = python_ssl_client(&pki, &port, "0");
    check_python_client(&client, &server);
    let out = server.finish(GUARD);
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert!(
        lines[0].starts_with("start\ttrue\tListening on 127.0.0.1:"),
        "{lines:?}"
    );
    assert_eq!(
        lines[2..],
        ["data\t12", "write\ttrue\t16\tSent 16 bytes", "served\t1"]
    );
}

#[test]
fn plua_tls_server_talks_to_a_python_ssl_client_that_pauses_after_the_handshake() {
    let pki = Pki::new();
    let dir = TempDir::new();
    let (server, port) = plua_tls_server(&pki, &dir, 1);
    let client = python_ssl_client(&pki, &port, "0.3");
    check_python_client(&client, &server);
    server.finish(GUARD).assert_code(0).assert_no_panic();
}

#[test]
fn plua_tls_server_talks_to_openssl_s_client() {
    let pki = Pki::new();
    let dir = TempDir::new();
    let (server, port) = plua_tls_server(&pki, &dir, 1);
    // s_client verifies against the CA, sends its stdin line and prints the reply.
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "-CAfile",
            &pki.path("ca.pem"),
            "-verify_return_error",
            "-quiet",
        ])
        .args(["-servername", "localhost"]);
    let mut s_client = Running::start(cmd, true);
    s_client.send_line("from s_client");
    let start = std::time::Instant::now();
    while !s_client.stdout_text().contains("TLS:FROM S_CLIENT") {
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "s_client got no reply\n--- s_client stdout ---\n{}\n--- s_client stderr ---\n{}\n\
             --- plua server stdout ---\n{}\n--- plua server stderr ---\n{}",
            s_client.stdout_text(),
            s_client.stderr_text(),
            server.stdout_text(),
            server.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    s_client.kill_and_collect(); // closing the connection: plua sees the disconnect
    let out = server.finish(GUARD);
    out.assert_code(0).assert_no_panic();
    assert_eq!(
        out.lines().last().copied(),
        Some("served\t1"),
        "{}",
        out.stdout
    );
}

#[test]
fn tls_client_reads_a_greeting_sent_right_after_the_handshake() {
    // Protocols like SMTP/IMAP over TLS greet first: the greeting may arrive together with
    // the end of the handshake.
    let pki = Pki::new();
    let (peer, port) = support::python_server(
        "import socket, ssl, sys\n\
         ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
         ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n\
         s = socket.socket()\n\
         s.bind(('127.0.0.1', 0))\n\
         s.listen(5)\n\
         s.settimeout(15)\n\
         print(s.getsockname()[1], flush=True)\n\
         for i in range(3):\n\
         \x20   raw, _ = s.accept()\n\
         \x20   c = ctx.wrap_socket(raw, server_side=True)\n\
         \x20   c.settimeout(5)\n\
         \x20   c.sendall(b'220 greeting %d\\n' % i)\n\
         \x20   print('got', c.recv(100).decode().strip(), flush=True)\n\
         \x20   c.close()\n",
        &[&pki.path("server.pem"), &pki.path("server.key")],
    );
    let out = run_client(
        r#"
for i = 0, 2 do
  local ok, id, msg = _PY.tcp_connect_sync("localhost", tonumber(arg[2]), {tls = true, cafile = arg[1], timeout = 5})
  assert(ok, msg)
  print(_PY.tcp_read_sync(id, "*l"))
  _PY.tcp_write_sync(id, "quit " .. i .. "\n")
  _PY.tcp_close_sync(id)
end
"#,
        &pki,
        port,
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "true\t220 greeting 0\tReceived 14 bytes",
        "true\t220 greeting 1\tReceived 14 bytes",
        "true\t220 greeting 2\tReceived 14 bytes",
    ]);
    peer.finish(GUARD).assert_code(0).assert_lines(&[
        &port.to_string(),
        "got quit 0",
        "got quit 1",
        "got quit 2",
    ]);
}
