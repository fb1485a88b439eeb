//! `_PY` TCP client family against real peers: Python 3 servers on 127.0.0.1 (ports chosen by
//! the kernel and printed by the peer), and plua's own server.

mod support;

use support::{
    GUARD, PY_TCP_ECHO, Running, TempDir, free_port, python_one_client_server, python_server,
    run_script,
};

#[test]
fn async_client_talks_to_a_python_echo_peer() {
    let (_peer, port) = python_server(PY_TCP_ECHO, &[]);
    let out = run_script(
        r#"
local port = tonumber(arg[1])
_PY.tcp_connect("127.0.0.1", port, function(ok, id, msg)
  print("connect", ok, math.type(id), msg)
  _PY.tcp_write(id, "hello echo\n", function(ok, n, msg)
    print("write", ok, n, msg)
    _PY.tcp_read_until(id, "\n", 100, function(ok, data, msg)
      print("read", ok, data:gsub("\n", "\\n"), msg)
      _PY.tcp_close(id, function(ok, msg) print("close", ok, msg == ("Connection %d closed"):format(id)) end)
    end)
  end)
end)
print("main done")
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "main done",
        &format!("connect\ttrue\tinteger\tConnected to 127.0.0.1:{port}"),
        "write\ttrue\t11\tSent 11 bytes",
        "read\ttrue\thello echo\\n\tReceived 11 bytes",
        "close\ttrue\ttrue",
    ]);
}

#[test]
fn read_until_includes_the_delimiter_and_stops_at_max() {
    let (peer, port) = python_one_client_server(
        "c.sendall(b'first|second part without the mark, long enough')\n\
         recv_line()\n",
    );
    let out = run_script(
        r#"
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]), {timeout = 10})
assert(ok, id)
print(_PY.tcp_read_until_sync(id, "|", 100))
print(_PY.tcp_read_until_sync(id, "%", 6))
_PY.tcp_read_until(id, "mark", 1000, function(ok, data, msg)
  print(ok, data, msg)
  _PY.tcp_write_sync(id, "bye\n")
  _PY.tcp_close_sync(id)
end)
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "true\tfirst|\tReceived 6 bytes",
        "true\tsecond\tReceived 6 bytes",
        "true\t part without the mark\tReceived 22 bytes",
    ]);
    peer.finish(GUARD).assert_code(0);
}

#[test]
fn line_and_all_patterns_and_a_count_that_reads_what_has_arrived() {
    // The 10-byte block arrives in three pieces: a count reads what has arrived (up to n, as
    // the original), so the script loops until it has all ten; "*a" ends only when the peer
    // closes.
    let (peer, port) = python_one_client_server(
        "c.sendall(b'line one\\r\\nline two\\n')\n\
         recv_line()\n\
         for piece in (b'012', b'3456', b'789'):\n\
         \x20   c.sendall(piece)\n\
         \x20   time.sleep(0.05)\n\
         c.sendall(b'the rest ')\n\
         time.sleep(0.05)\n\
         c.sendall(b'of the stream')\n",
    );
    let out = run_script(
        r#"
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]), {timeout = 10})
assert(ok, id)
print("l1", _PY.tcp_read_sync(id, "*l"))
print("l2", _PY.tcp_read_sync(id, "*l"))
_PY.tcp_write_sync(id, "go\n")
local block, reads = "", 0
while #block < 10 do
  local ok, piece = _PY.tcp_read_sync(id, 10 - #block)
  assert(ok and #piece <= 10 - #block, piece)
  block, reads = block .. piece, reads + 1
end
print("n", block, reads >= 1 and reads <= 10)
print("a", _PY.tcp_read_sync(id, "*a"))
print("after", _PY.tcp_read_sync(id, "*a"))
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "l1\ttrue\tline one\tReceived 8 bytes",
        "l2\ttrue\tline two\tReceived 8 bytes",
        "n\t0123456789\ttrue",
        "a\ttrue\tthe rest of the stream\tReceived 22 bytes",
        "after\tfalse\tnil\tclosed",
    ]);
    peer.finish(GUARD).assert_code(0);
}

#[test]
fn a_read_timeout_keeps_already_received_bytes() {
    // The peer sends half a line, then waits for plua's "go" before finishing it: the first
    // line read must time out, and the half line must still be there for the next read.
    let (peer, port) = python_one_client_server(
        "c.sendall(b'abc')\n\
         assert recv_line() == b'go\\n'\n\
         c.sendall(b'def\\n')\n\
         recv_line()\n",
    );
    let out = run_script(
        r#"
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]))
assert(ok, id)
print(_PY.tcp_set_timeout(id, 0.2))
print(_PY.tcp_get_timeout(id))
print("first", _PY.tcp_read_sync(id, "*l"))
print("write", _PY.tcp_write_sync(id, "go\n"))
_PY.tcp_set_timeout(id, 10)
print("second", _PY.tcp_read_sync(id, "*l"))
_PY.tcp_set_timeout(id, 0.2)
_PY.tcp_read(id, 100, function(ok, data, msg)
  print("async", ok, data, msg)
  _PY.tcp_write_sync(id, "end\n")
  _PY.tcp_close(id)
end)
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines.len(), 6, "{}\n{}", out.stdout, out.stderr);
    assert!(
        lines[0].starts_with("true\tTimeout set to 0.2 seconds"),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("true\t0.2\t"), "{lines:?}");
    // A waiting read that times out gives the original's `true, ""`; the async form reports it.
    assert_eq!(lines[2], "first\ttrue\t\ttimeout");
    assert_eq!(lines[3], "write\ttrue\t3\tSent 3 bytes");
    assert_eq!(lines[4], "second\ttrue\tabcdef\tReceived 6 bytes");
    assert_eq!(lines[5], "async\tfalse\tnil\ttimeout");
    peer.finish(GUARD).assert_code(0);
}

#[test]
fn connection_refused_is_reported_not_raised() {
    let port = free_port(); // bound and released: nobody listens there now
    let out = run_script(
        r#"
local port = tonumber(arg[1])
local ok, id, msg = _PY.tcp_connect_sync("127.0.0.1", port)
print("sync", ok, id, msg:lower():find("refused") ~= nil, msg)
_PY.tcp_connect("127.0.0.1", port, function(ok, id, msg)
  print("async", ok, id, msg:lower():find("refused") ~= nil)
end)
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert!(lines[0].starts_with("sync\tfalse\tnil\ttrue"), "{lines:?}");
    assert_eq!(lines[1..], ["async\tfalse\tnil\ttrue"]);
}

#[test]
fn a_name_that_does_not_resolve_fails_with_cannot_resolve() {
    let out = run_script(
        r#"
local ok, id, msg = _PY.tcp_connect_sync("no-such-host.invalid", 80, {timeout = 10})
print(ok, id, msg:find("cannot resolve", 1, true) ~= nil, msg:find("no-such-host.invalid", 1, true) ~= nil)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["false\tnil\ttrue\ttrue"]);
}

#[test]
fn peer_closing_after_part_of_a_count_gives_what_arrived_then_closed() {
    let (peer, port) = python_one_client_server("c.sendall(b'12345')\n");
    let out = run_script(
        r#"
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]), {timeout = 10})
assert(ok, id)
-- a long read timeout: the count read must end because the peer closed, not because the
-- default 1 s timeout ran out on a loaded machine
_PY.tcp_set_timeout(id, 30)
print("n", _PY.tcp_read_sync(id, 10))
print("a", _PY.tcp_read_sync(id, "*a"))
print("again", _PY.tcp_read_sync(id, 1))
print("write", _PY.tcp_write_sync(id, "late"))
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "n\ttrue\t12345\tReceived 5 bytes",
        "a\tfalse\tnil\tclosed",
        "again\tfalse\tnil\tclosed",
        "write\tfalse\tnil\tclosed",
    ]);
    peer.finish(GUARD).assert_code(0);
}

#[test]
fn peer_closing_during_an_async_max_read_returns_the_buffered_part() {
    let (peer, port) = python_one_client_server("c.sendall(b'partial')\ntime.sleep(0.1)\n");
    let out = run_script(
        r#"
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]), {timeout = 10})
assert(ok, id)
-- wait for "partial" and the close to have happened (a line read fails with "closed")
_PY.tcp_set_timeout(id, 10)
print("n", _PY.tcp_read_sync(id, "*l"))
_PY.tcp_read(id, 100, function(...) print("max", ...) end)
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "n\tfalse\tnil\tclosed",
        "max\ttrue\tpartial\tReceived 7 bytes",
    ]);
    peer.finish(GUARD).assert_code(0);
}

#[test]
fn ten_megabytes_of_binary_data_round_trip_through_a_python_echo() {
    // plua generates 10 MiB of pseudo-random bytes (every byte value), saves them to sent.bin,
    // sends them to a Python echo and reads the echo back while it is still sending. Python
    // hashes what it received and the file; plua compares the echo with what it sent.
    let dir = TempDir::new();
    let sent = dir.path().join("sent.bin");
    let (peer, port) = python_one_client_server(&format!(
        "data = recv_exact(10 * 1024 * 1024)\n\
         view = memoryview(data)\n\
         for i in range(0, len(data), 100000):\n\
         \x20   c.sendall(view[i:i + 100000])\n\
         sent = open({:?}, 'rb').read()\n\
         print('received', len(data), hashlib.sha256(data).hexdigest(), flush=True)\n\
         print('file', len(sent), hashlib.sha256(sent).hexdigest(), flush=True)\n\
         print('seen', len(set(data)), flush=True)\n\
         recv_exact(1)\n",
        sent.to_str().unwrap()
    ));
    dir.write(
        "big.lua",
        r#"
local parts, chunk, x = {}, {}, 12345
for c = 1, 10 * 1024 * 1024 / 4096 do
  for i = 1, 4096 do
    x = (x * 1103515245 + 12345) & 0x7fffffff
    chunk[i] = (x >> 16) & 0xff
  end
  parts[c] = string.char(table.unpack(chunk))
end
local payload = table.concat(parts)
local f = assert(io.open("sent.bin", "wb")) f:write(payload) f:close()
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]), {timeout = 20})
assert(ok, id)
local written
_PY.tcp_write(id, payload, function(ok, n, msg) written = {ok, n} end)
-- a count reads what has arrived: collect until the whole echo is back
local pieces, got, ok, msg = {}, 0, true, nil
while ok and got < #payload do
  local piece
  ok, piece, msg = _PY.tcp_read_sync(id, #payload - got)
  if ok then pieces[#pieces + 1] = piece got = got + #piece end
end
local echo = table.concat(pieces)
print("write", written and written[1], written and written[2])
print("read", ok, #echo)
print("identical", echo == payload)
_PY.tcp_close_sync(id)
"#,
    );
    let out = Running::script_with_args(&dir, "big.lua", &[&port.to_string()]).finish(GUARD);
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "write\ttrue\t10485760",
        "read\ttrue\t10485760",
        "identical\ttrue",
    ]);
    let py = peer.finish(GUARD);
    py.assert_code(0);
    let lines = py.lines();
    let received = lines[1].strip_prefix("received ").expect("received line");
    let file = lines[2].strip_prefix("file ").expect("file line");
    assert!(received.starts_with("10485760 "), "{lines:?}");
    assert_eq!(received, file, "python got different bytes than plua sent");
    assert_eq!(
        lines[3], "seen 256",
        "payload should contain every byte value"
    );
}

#[test]
fn sync_forms_suspend_only_the_main_chunk_while_timers_fire() {
    // The peer answers only after the interval (not the main chunk) wrote "go": the main
    // chunk's read can only complete if timers kept running while it waited.
    let (peer, port) = python_one_client_server(
        "assert recv_line() == b'hello\\n'\n\
         assert recv_line() == b'go\\n'\n\
         c.sendall(b'reply\\n')\n\
         recv_line()\n",
    );
    let out = run_script(
        r#"
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]), {timeout = 10})
assert(ok, id)
local ticks = 0
local t
t = setInterval(function()
  ticks = ticks + 1
  print("tick", ticks)
  if ticks == 3 then _PY.tcp_write(id, "go\n") end
end, 20)
print("write", _PY.tcp_write_sync(id, "hello\n"))
local ok, line = _PY.tcp_read_sync(id, "*l")
print("read", ok, line, ticks >= 3)
clearInterval(t)
_PY.tcp_write_sync(id, "bye\n")
_PY.tcp_close_sync(id)
"#,
        &[&port.to_string()],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "write\ttrue\t6\tSent 6 bytes",
        "tick\t1",
        "tick\t2",
        "tick\t3",
        "read\ttrue\treply\ttrue",
    ]);
    peer.finish(GUARD).assert_code(0);
}

#[test]
fn blocking_fallback_inside_a_table_sort_comparator_still_reads() {
    let (peer, port) = python_one_client_server(
        "assert recv_line() == b'ask\\n'\n\
         time.sleep(0.1)\n\
         c.sendall(b'answer from python\\n')\n\
         recv_line()\n",
    );
    let out = run_script(
        r#"
local ok, id = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]), {timeout = 10})
assert(ok, id)
_PY.tcp_write_sync(id, "ask\n")
local got
local t = {3, 1, 2}
table.sort(t, function(a, b)
  if not got then
    got = {_PY.tcp_read_sync(id, "*l")}
  end
  return a < b
end)
print(table.concat(t, ","), got[1], got[2])
_PY.tcp_write_sync(id, "bye\n")
_PY.tcp_close_sync(id)
"#,
        &[&port.to_string()],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["1,2,3\ttrue\tanswer from python"]);
    peer.finish(GUARD).assert_code(0);
}

#[test]
fn plua_client_and_plua_server_in_two_processes() {
    let dir = TempDir::new();
    dir.write(
        "server.lua",
        r#"
local srv = _PY.tcp_server_create()
_PY.tcp_server_add_event_listener(srv, "data_received", function(id, data)
  _PY.tcp_write(id, "server got " .. data)
end)
_PY.tcp_server_add_event_listener(srv, "client_disconnected", function(id, addr)
  print("client left", addr:match("^127%.0%.0%.1:%d+$") ~= nil)
  _PY.tcp_server_close(srv)
end)
local ok, msg, port = _PY.tcp_server_start(srv, "127.0.0.1", 0)
print("port=" .. port)
"#,
    );
    dir.write(
        "client.lua",
        r#"
local ok, id, msg = _PY.tcp_connect_sync("127.0.0.1", tonumber(arg[1]), {timeout = 10})
print(ok, msg)
_PY.tcp_write_sync(id, "ping\n")
print(_PY.tcp_read_sync(id, "*l"))
_PY.tcp_close_sync(id)
"#,
    );
    let mut server = Running::script_with_args(&dir, "server.lua", &[]);
    let port = server.line_after("port=");
    let client = Running::script_with_args(&dir, "client.lua", &[&port]).finish(GUARD);
    client.assert_code(0).assert_no_panic().assert_lines(&[
        &format!("true\tConnected to 127.0.0.1:{port}"),
        "true\tserver got ping\tReceived 15 bytes",
    ]);
    // The server exits by itself once it closed its listener.
    let out = server.finish(GUARD);
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&[&format!("port={port}"), "client left\ttrue"]);
}
