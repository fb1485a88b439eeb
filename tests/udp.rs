//! `_PY` UDP family against Python peers on 127.0.0.1 (kernel-chosen ports).

mod support;

use support::{GUARD, PY_UDP_ECHO, Running, TempDir, python, python_server, run_script};

#[test]
fn udp_bind_receives_from_a_python_sender_with_its_ip_and_port() {
    let dir = TempDir::new();
    dir.write(
        "recv.lua",
        r#"
_PY.udp_bind("127.0.0.1", 0, function(ok, id, msg, port)
  print("bound", ok, math.type(id), msg == "UDP socket bound to 127.0.0.1:" .. tostring(port))
  print("port=" .. tostring(port))
  _PY.udp_read(id, 1000, function(ok, data, msg, ip, from_port)
    print("read", ok, #data, data == "ping\0\255 binary", msg, ip, from_port)
    _PY.udp_write(id, "pong", ip, from_port, function(ok, n, msg)
      print("write", ok, n)
      _PY.udp_close(id, function(ok, msg) print("close", ok, msg) end)
    end)
  end)
end)
"#,
    );
    let mut receiver = Running::script_with_args(&dir, "recv.lua", &[]);
    let port = receiver.line_after("port=");
    let sender = python(
        "import socket, sys\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.bind(('127.0.0.1', 0))\n\
         s.settimeout(15)\n\
         print('local', s.getsockname()[1], flush=True)\n\
         s.sendto(b'ping\\x00\\xff binary', ('127.0.0.1', int(sys.argv[1])))\n\
         d, a = s.recvfrom(100)\n\
         print('reply', d.decode(), a[1] == int(sys.argv[1]), flush=True)\n",
        &[&port],
    )
    .finish(GUARD);
    sender.assert_code(0);
    let local = sender.lines()[0].strip_prefix("local ").unwrap().to_owned();
    assert_eq!(sender.lines()[1], "reply pong True");
    let out = receiver.finish(GUARD);
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines.len(), 5, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(lines[0], "bound\ttrue\tinteger\ttrue");
    assert_eq!(
        lines[2],
        format!(
            "read\ttrue\t13\ttrue\tReceived 13 bytes from 127.0.0.1:{local}\t127.0.0.1\t{local}"
        )
    );
    assert_eq!(lines[3], "write\ttrue\t4");
    assert!(lines[4].starts_with("close\ttrue"), "{lines:?}");
}

#[test]
fn udp_connect_write_and_read_the_reply_of_a_python_echo() {
    let (peer, port) = python_server(PY_UDP_ECHO, &[]);
    let out = run_script(
        r#"
local port = tonumber(arg[1])
_PY.udp_connect("127.0.0.1", port, function(ok, id, msg)
  print("connect", ok, math.type(id), type(msg))
  _PY.udp_write(id, "hello udp", function(ok, n, msg)
    print("write", ok, n)
    _PY.udp_read(id, 1000, function(ok, data, msg, ip, from_port)
      print("read", ok, data, ip, from_port == port)
      -- the same socket can also name the destination explicitly
      _PY.udp_write(id, "second", "127.0.0.1", port, function(ok)
        _PY.udp_read(id, 1000, function(ok, data)
          print("read2", ok, data)
          _PY.udp_close(id)
        end)
      end)
    end)
  end)
end)
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "connect\ttrue\tinteger\tstring",
        "write\ttrue\t9",
        "read\ttrue\techo:hello udp\t127.0.0.1\ttrue",
        "read2\ttrue\techo:second",
    ]);
    let py = peer.kill_and_collect();
    assert_eq!(py.stdout.matches("from ").count(), 2, "{}", py.stdout);
}

#[test]
fn udp_read_times_out_and_unknown_ids_are_reported() {
    let (_peer, port) = python_server(PY_UDP_ECHO, &[]);
    let out = run_script(
        r#"
local port = tonumber(arg[1])
local id = _PY.udp_bind("127.0.0.1", 0, nil, {timeout = 0.2})
print("bound", math.type(id))
print("sync", _PY.udp_receive_sync(id, 100))
_PY.udp_write(id, "late", "127.0.0.1", port)
print("sync2", _PY.udp_receive_sync(id, 100))
print("close", _PY.udp_close(id))
_PY.udp_read(id, 100, function(ok, data, msg) print("after close", ok, data, type(msg)) end)
_PY.udp_write(999999, "x", "127.0.0.1", port, function(ok, n, msg) print("unknown", ok, n, type(msg)) end)
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines.len(), 6, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(lines[0], "bound\tinteger");
    assert_eq!(lines[1], "sync\tfalse\tnil\ttimeout");
    assert!(
        lines[2].starts_with("sync2\ttrue\techo:late\t"),
        "{lines:?}"
    );
    assert!(lines[3].starts_with("close\ttrue"), "{lines:?}");
    let mut rest = lines[4..].to_vec();
    rest.sort();
    assert_eq!(
        rest,
        [
            "after close\tfalse\tnil\tstring",
            "unknown\tfalse\tnil\tstring"
        ]
    );
}

/// The machine's host name if it resolves to an IPv4 loopback address (most do, through
/// /etc/hosts), with that address.
fn loopback_host_name() -> Option<(String, String)> {
    use std::net::ToSocketAddrs;
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim().to_owned();
    let address = (name.as_str(), 0)
        .to_socket_addrs()
        .ok()?
        .find(|address| address.is_ipv4() && address.ip().is_loopback())?;
    Some((name, address.ip().to_string()))
}

#[test]
fn udp_write_to_a_host_name_looks_it_up_off_the_loop_and_reports_failures() {
    // A name that cannot resolve comes back through the callback; a resolvable one (the
    // machine's own name, when it maps to loopback) delivers the datagram.
    let (name, address) = loopback_host_name().unwrap_or_default();
    let out = run_script(
        r#"
local name, address = arg[1], arg[2]
_PY.udp_bind(address ~= "" and address or "127.0.0.1", 0, function(ok, id, msg, port)
  _PY.udp_write(id, "lost", "nonexistent.invalid", 9, function(ok, n, msg)
    print("unresolvable", ok, n, (tostring(msg):match("^cannot resolve host 'nonexistent.invalid'") ~= nil))
    if name == "" then
      print("no loopback host name")
      return _PY.udp_close(id)
    end
    _PY.udp_read(id, 100, function(ok, data)
      print("received", ok, data)
      _PY.udp_close(id)
    end)
    _PY.udp_write(id, "by name", name, port, function(ok, n) print("sent", ok, n) end)
  end)
end)
"#,
        &[&name, &address],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(
        lines.first().copied(),
        Some("unresolvable\tfalse\tnil\ttrue"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    if name.is_empty() {
        assert_eq!(lines.get(1).copied(), Some("no loopback host name"));
    } else {
        assert!(lines.contains(&"sent\ttrue\t7"), "{lines:?}");
        assert!(lines.contains(&"received\ttrue\tby name"), "{lines:?}");
    }
}
