//! The HC3 `net` library (`require("net")`): TCPSocket, UDPSocket, TCPServer, EchoServer and
//! the net.tcp_*_sync wrappers, against Python peers on 127.0.0.1.

mod support;

use support::{
    GUARD, PY_TCP_ECHO, PY_UDP_ECHO, Running, TempDir, python, python_one_client_server,
    python_server, run_script,
};

#[test]
fn tcp_socket_connect_send_read_until_read_and_close() {
    let (peer, port) = python_one_client_server(
        "c.sendall(b'welcome\\nmore')\n\
         line = recv_line()\n\
         c.sendall(b'you said ' + line)\n\
         assert recv_line() == b'ok\\n'\n\
         c.sendall(b'tail')\n\
         recv_exact(1)\n\
         print('peer saw eof', flush=True)\n",
    );
    let out = run_script(
        r#"
local net = require("net")
local sock = net.TCPSocket({timeout = 5000})
print(tostring(sock))
local function show(s) return (s:gsub("\n", "\\n")) end
sock:connect("127.0.0.1", tonumber(arg[1]), {
  success = function()
    print("connected", tostring(sock):match("^TCPSocket object: %d+$") ~= nil)
    sock:readUntil("\n", {
      success = function(data)
        print("until", show(data))
        sock:send("hi there\n", {
          success = function(n)
            print("sent", n)
            sock:readUntil("there\n", {
              success = function(data)
                print("until2", show(data))
                sock:write("ok\n")
                sock:read({
                  success = function(data)
                    print("read", data)
                    sock:close()
                    print(tostring(sock))
                  end,
                  error = function(e) print("read error", e) end,
                })
              end,
            })
          end,
        })
      end,
      error = function(e) print("until error", e) end,
    })
  end,
  error = function(e) print("connect error", e) end,
})
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "TCPSocket object: not connected",
        "connected\ttrue",
        "until\twelcome\\n",
        "sent\t9",
        "until2\tmoreyou said hi there\\n",
        "read\ttail",
        "TCPSocket object: not connected",
    ]);
    let py = peer.finish(GUARD);
    py.assert_code(0);
    assert_eq!(py.lines()[1], "peer saw eof");
}

#[test]
fn tcp_socket_timeout_in_milliseconds_on_a_silent_peer() {
    let (peer, port) = python_one_client_server("recv_exact(1)\n");
    let out = run_script(
        r#"
local net = require("net")
local sock = net.TCPSocket({timeout = 300})
sock:connect("127.0.0.1", tonumber(arg[1]), {
  success = function()
    sock:read({
      success = function(data) print("unexpected data", data) end,
      error = function(e)
        print("read error", e)
        sock:readUntil("\n", {
          error = function(e) print("readUntil error", e) sock:close() end,
        })
      end,
    })
  end,
  error = function(e) print("connect error", e) end,
})
"#,
        &[&port.to_string()],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["read error\ttimeout", "readUntil error\ttimeout"]);
    peer.finish(GUARD).assert_code(0);
}

#[test]
fn tcp_socket_reports_errors_through_callbacks() {
    let port = support::free_port();
    let out = run_script(
        r#"
local net = require("net")
local sock = net.TCPSocket()
sock:send("x", {error = function(e) print("send before connect", e) end})
sock:connect("127.0.0.1", tonumber(arg[1]), {
  success = function() print("unexpected success") end,
  error = function(e) print("connect error", e:lower():find("refused") ~= nil) end,
})
print(pcall(net.TCPSocket, "not a table"))
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert!(lines[0].starts_with("false\t"), "{lines:?}");
    assert!(lines[0].contains("net.TCPSocket"), "{lines:?}");
    let mut rest = lines[1..].to_vec();
    rest.sort();
    assert_eq!(
        rest,
        ["connect error\ttrue", "send before connect\tNot connected"]
    );
}

#[test]
fn udp_socket_send_to_and_receive_from_a_python_echo() {
    let (peer, port) = python_server(PY_UDP_ECHO, &[]);
    let out = run_script(
        r#"
local net = require("net")
local port = tonumber(arg[1])
local sock = net.UDPSocket({timeout = 5000})
sock:sendTo("hello hc3", "127.0.0.1", port, {
  success = function()
    print("sent")
    sock:receive({
      success = function(data, ip, from_port)
        print("received", data, ip, from_port == port)
        sock:close()
        sock:receive({error = function(e) print("after close", e) end})
      end,
      error = function(e) print("receive error", e) end,
    })
  end,
  error = function(e) print("send error", e) end,
})
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "sent",
        "received\techo:hello hc3\t127.0.0.1\ttrue",
        "after close\tclosed",
    ]);
    assert!(peer.kill_and_collect().stdout.contains("from "));
}

#[test]
fn udp_socket_receive_times_out_in_milliseconds() {
    let out = run_script(
        r#"
local net = require("net")
local sock = net.UDPSocket({timeout = 200})
sock:bind("127.0.0.1", 0)
sock:receive({
  success = function(data) print("unexpected", data) end,
  error = function(e) print("error", e) sock:close() end,
})
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["error\ttimeout"]);
}

#[test]
fn tcp_server_serves_a_python_client() {
    let dir = TempDir::new();
    dir.write(
        "server.lua",
        r#"
local net = require("net")
local server = net.TCPServer()
local ok, port = server:start("127.0.0.1", 0, function(client, addr, ip, port)
  print("client", addr == ip .. ":" .. port, ip, math.type(port))
  client:readUntil("\n", {
    success = function(line)
      client:send("hello " .. line, {
        success = function()
          client:close()
          server:stop()
          print(tostring(server))
        end,
      })
    end,
  })
end)
print("started", ok)
print("port=" .. port)
"#,
    );
    let mut server = Running::script_with_args(&dir, "server.lua", &[]);
    let port = server.line_after("port=");
    let client = python(
        "import socket, sys\n\
         c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=15)\n\
         c.sendall(b'python\\n')\n\
         data = b''\n\
         while True:\n\
         \x20   d = c.recv(100)\n\
         \x20   if not d: break\n\
         \x20   data += d\n\
         print('got', data, flush=True)\n",
        &[&port],
    )
    .finish(GUARD);
    client
        .assert_code(0)
        .assert_lines(&["got b'hello python\\n'"]);
    server
        .finish(GUARD)
        .assert_code(0)
        .assert_no_panic()
        .assert_lines(&[
            "started\ttrue",
            &format!("port={port}"),
            "client\ttrue\t127.0.0.1\tinteger",
            "TCPServer object: stopped",
        ]);
}

#[test]
fn echo_server_answers_with_echo_prefix() {
    let dir = TempDir::new();
    dir.write(
        "echo.lua",
        r#"
local net = require("net")
local server = net.EchoServer("127.0.0.1", 0)
print("port=" .. server.port)
"#,
    );
    let mut server = Running::script_with_args(&dir, "echo.lua", &[]);
    let port = server.line_after("port=");
    let client = python(
        "import socket, sys\n\
         for msg in (b'one', b'two'):\n\
         \x20   c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=15)\n\
         \x20   c.sendall(msg)\n\
         \x20   print(c.recv(100).decode(), flush=True)\n\
         \x20   c.close()\n",
        &[&port],
    )
    .finish(GUARD);
    client
        .assert_code(0)
        .assert_lines(&["Echo: one", "Echo: two"]);
    // The echo server keeps the process alive until it is killed.
    assert!(server.is_running());
    server.kill_and_collect().assert_no_panic();
}

#[test]
fn net_sync_wrappers_talk_to_a_python_echo() {
    let (_peer, port) = python_server(PY_TCP_ECHO, &[]);
    let out = run_script(
        r#"
local net = require("net")
local ok, id, msg = net.tcp_connect_sync("127.0.0.1", tonumber(arg[1]), {timeout = 5})
print(ok, msg == "Connected to 127.0.0.1:" .. arg[1])
print(net.tcp_write_sync(id, "sync line\n"))
print(net.tcp_read_sync(id, "*l"))
print(net.tcp_close_sync(id))
print(net.tcp_write_sync(id, "again"))
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines.len(), 5, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(lines[0], "true\ttrue");
    assert_eq!(lines[1], "true\t10\tSent 10 bytes");
    assert_eq!(lines[2], "true\tsync line\tReceived 9 bytes");
    assert!(lines[3].starts_with("true\tConnection "), "{lines:?}");
    assert!(lines[4].starts_with("false\tnil\t"), "{lines:?}");
}
