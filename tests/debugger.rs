//! `--debugger`: plua connects to an IDE speaking the MobDebug protocol. The IDE here is a
//! scripted Python controller (`support/mobdebug_ide.py`) listening on an ephemeral port; each
//! test checks the replies plua sends and what the program did after the session.

mod support;

use support::*;

const IDE: &str = include_str!("support/mobdebug_ide.py");

/// Runs plua with `args` (options, script, its arguments) in `dir` under the debugger, the
/// controller sending `commands`. Returns plua's output and the controller's transcript.
fn debug_session(dir: &TempDir, args: &[&str], commands: &[&str]) -> (Output, Vec<String>) {
    let (ide, port) = python_server(IDE, commands);
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["--debugger-port", &port.to_string()])
        .args(args);
    let out = Running::start(cmd, false).finish(GUARD);
    let transcript = ide.finish(GUARD);
    let lines = transcript
        .lines()
        .iter()
        .skip(1)
        .map(|l| (*l).to_owned())
        .collect();
    (out, lines)
}

/// The transcript line of the n-th (from 0) command starting with `command`.
fn reply<'a>(transcript: &'a [String], command: &str, n: usize) -> &'a str {
    transcript
        .iter()
        .filter(|l| l.starts_with(command) && l.contains(" => "))
        .nth(n)
        .map(|l| l.as_str())
        .unwrap_or_else(|| panic!("no reply #{n} to {command}: {transcript:#?}"))
}

const TIMER_SCRIPT: &str = "local count = 0
local function bump(step)
  local before = count
  count = count + step
  return before
end
setTimeout(function()
  local label = \"tick\"
  local prev = bump(2)
  print(label, prev, count)
end, 10)
print(\"main done\")
";

#[test]
fn a_breakpoint_in_a_timer_callback_pauses_shows_locals_evaluates_and_steps() {
    let dir = TempDir::new();
    dir.write("t.lua", TIMER_SCRIPT);
    let (out, t) = debug_session(
        &dir,
        &["t.lua"],
        &[
            "SETB t.lua 9",
            "RUN",
            "WAIT",
            "STACK",
            "EXEC return label, count",
            "EXEC label = \"changed\"",
            "STEP",
            "WAIT",
            "OVER",
            "WAIT",
            "OUT",
            "WAIT",
            "DELB t.lua 9",
            "RUN",
        ],
    );
    out.assert_code(0);
    assert_eq!(reply(&t, "SETB t.lua 9", 0), "SETB t.lua 9 => 200 OK");
    assert_eq!(reply(&t, "WAIT", 0), "WAIT => 202 Paused t.lua 9");
    let stack = reply(&t, "STACK", 0);
    assert!(
        stack.starts_with("STACK => 200 OK do local _ = "),
        "{stack}"
    );
    assert!(stack.contains("label = {\"tick\", \"tick\"}"), "{stack}");
    assert!(stack.contains("count = {0, \"0\"}"), "upvalue: {stack}");
    let exec = reply(&t, "EXEC return label, count", 0);
    assert!(exec.contains("{\"\\\"tick\\\"\", \"0\"}"), "{exec}");
    assert!(
        reply(&t, "EXEC label", 0).starts_with("EXEC label = \"changed\" => 200 OK"),
        "{t:#?}"
    );
    assert_eq!(
        reply(&t, "WAIT", 1),
        "WAIT => 202 Paused t.lua 3",
        "STEP into bump"
    );
    assert_eq!(reply(&t, "WAIT", 2), "WAIT => 202 Paused t.lua 4", "OVER");
    assert_eq!(reply(&t, "WAIT", 3), "WAIT => 202 Paused t.lua 10", "OUT");
    assert_eq!(t.last().map(String::as_str), Some("EOF"));
    out.assert_lines(&["main done", "changed\t0\t2"]);
}

#[test]
fn a_watch_expression_pauses_with_203_and_delw_lets_it_run_on() {
    let dir = TempDir::new();
    dir.write(
        "w.lua",
        "setTimeout(function()\n  local n = 0\n  for i = 1, 5 do\n    n = n + i\n  end\n  print('n', n)\nend, 0)\n",
    );
    let (out, t) = debug_session(
        &dir,
        &["w.lua"],
        &[
            "SETW n >= 6",
            "RUN",
            "WAIT",
            "EXEC return n",
            "DELW 1",
            "RUN",
        ],
    );
    out.assert_code(0);
    assert_eq!(reply(&t, "SETW n >= 6", 0), "SETW n >= 6 => 200 OK 1");
    let paused = reply(&t, "WAIT", 0);
    assert!(
        paused.starts_with("WAIT => 203 Paused w.lua ") && paused.ends_with(" 1"),
        "{paused}"
    );
    assert!(reply(&t, "EXEC return n", 0).contains("{\"6\"}"), "{t:#?}");
    out.assert_lines(&["n\t15"]);
}

#[test]
fn bad_commands_get_400_and_bad_expressions_401() {
    let dir = TempDir::new();
    dir.write("b.lua", "local x = 1\nprint('x', x)\n");
    let (out, t) = debug_session(
        &dir,
        &["b.lua"],
        &[
            "FROB",
            "SETB nowhere",
            "SETW )(",
            "STEP",
            "WAIT",
            "EXEC return (",
            "EXEC error('boom')",
            "RUN",
        ],
    );
    out.assert_code(0);
    assert_eq!(reply(&t, "FROB", 0), "FROB => 400 Bad Request");
    assert_eq!(
        reply(&t, "SETB nowhere", 0),
        "SETB nowhere => 400 Bad Request"
    );
    assert_eq!(reply(&t, "SETW )(", 0), "SETW )( => 400 Bad Request");
    assert_eq!(reply(&t, "WAIT", 0), "WAIT => 202 Paused b.lua 2");
    assert!(
        reply(&t, "EXEC return (", 0).contains("401 Error in Expression"),
        "{t:#?}"
    );
    assert!(
        reply(&t, "EXEC error", 0).contains("401 Error in Execution")
            && t.join("\n").contains("boom"),
        "{t:#?}"
    );
    out.assert_lines(&["x\t1"]);
}

#[test]
fn breakpoints_hit_in_a_coroutine_the_script_creates() {
    let dir = TempDir::new();
    dir.write(
        "c.lua",
        "local gen = coroutine.wrap(function()\n  for i = 1, 3 do\n    local sq = i * i\n    coroutine.yield(sq)\n  end\nend)\nprint(gen(), gen(), gen())\n",
    );
    let (out, t) = debug_session(
        &dir,
        &["c.lua"],
        &[
            "SETB c.lua 4",
            "RUN",
            "WAIT",
            "EXEC return sq",
            "DELB c.lua 4",
            "RUN",
        ],
    );
    out.assert_code(0);
    assert_eq!(reply(&t, "WAIT", 0), "WAIT => 202 Paused c.lua 4");
    assert!(reply(&t, "EXEC return sq", 0).contains("{\"1\"}"), "{t:#?}");
    out.assert_lines(&["1\t4\t9"]);
}

#[test]
fn a_breakpoint_in_an_http_server_handler_pauses_the_request() {
    let dir = TempDir::new();
    let port = free_port();
    dir.write(
        "h.lua",
        "local id\nid = _PY.http_server_start('127.0.0.1', tonumber(arg[1]), function(req)\n  local path = req.path\n  setTimeout(function() _PY.http_server_stop(id) end, 0)\n  return 200, 'seen ' .. path\nend)\n",
    );
    let http = format!("HTTP:{port}:/hello");
    let commands = [
        "SETB h.lua 4",
        "RUN",
        &http,
        "WAIT",
        "EXEC return path",
        "DELB h.lua 4",
        "RUN",
    ];
    let (out, t) = debug_session(&dir, &["h.lua", &port.to_string()], &commands);
    out.assert_code(0);
    assert_eq!(reply(&t, "WAIT", 0), "WAIT => 202 Paused h.lua 4");
    assert!(
        reply(&t, "EXEC return path", 0).contains("\\\"/hello\\\""),
        "{t:#?}"
    );
    assert!(t.iter().any(|l| l == "http 200"), "{t:#?}");
}

#[test]
fn a_quickapp_on_init_and_its_ui_callback_hit_breakpoints_under_fibaro() {
    let dir = TempDir::new();
    dir.write(
        "qa.lua",
        "--%%name:Dbg\n--%%u:{button='b1',text='B',onReleased='pressed'}\nfunction QuickApp:onInit()\n  local greeting = 'hello'\n  self:debug(greeting)\n  api.post('/plugins/callUIEvent', {deviceID = self.id, elementName = 'b1', eventType = 'onReleased', values = {}})\nend\nfunction QuickApp:pressed(event)\n  local who = 'button'\n  self:debug('pressed', who)\nend\n",
    );
    let commands = [
        "SETB qa.lua 5",
        "SETB qa.lua 10",
        "RUN",
        "WAIT",
        "EXEC return greeting",
        "RUN",
        "WAIT",
        "EXEC return who, event.elementName",
        "RUN",
    ];
    let (out, t) = debug_session(&dir, &["--fibaro", "--no-api", "-o", "qa.lua"], &commands);
    out.assert_code(0);
    assert_eq!(reply(&t, "WAIT", 0), "WAIT => 202 Paused qa.lua 5");
    assert!(
        reply(&t, "EXEC return greeting", 0).contains("\\\"hello\\\""),
        "{t:#?}"
    );
    assert_eq!(reply(&t, "WAIT", 1), "WAIT => 202 Paused qa.lua 10");
    assert!(
        reply(&t, "EXEC return who", 0).contains("{\"\\\"button\\\"\", \"\\\"b1\\\"\"}"),
        "{t:#?}"
    );
    out.assert_stdout_contains("pressed button");
}

#[test]
fn timers_that_came_due_during_a_pause_fire_in_order_after_run_and_intervals_skip() {
    let dir = TempDir::new();
    dir.write(
        "p.lua",
        "local socket = require('socket')\nlocal resumed\nlocal ticks, id = 0, nil\nid = setInterval(function()\n  ticks = ticks + 1\n  print(('tick %d %.0f'):format(ticks, (socket.gettime() - resumed) * 1000))\n  if ticks == 2 then clearInterval(id) end\nend, 200)\nsetTimeout(function() print('timeout') end, 150)\nsetTimeout(function()\n  local here = true\n  resumed = socket.gettime()\n  print('resumed')\nend, 20)\n",
    );
    let commands = ["SETB p.lua 11", "RUN", "WAIT", "SLEEP:700", "RUN"];
    let (out, t) = debug_session(&dir, &["p.lua"], &commands);
    out.assert_code(0);
    assert_eq!(reply(&t, "WAIT", 0), "WAIT => 202 Paused p.lua 11");
    let lines = out.lines();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(&lines[..2], &["resumed", "timeout"]);
    let late = |line: &str, n: &str| -> f64 {
        let rest = line
            .strip_prefix(&format!("tick {n} "))
            .unwrap_or_else(|| panic!("tick {n} expected, got {line:?}"));
        rest.parse().expect("ms")
    };
    let first = late(lines[2], "1");
    let second = late(lines[3], "2");
    // The interval came due three times while paused: one late tick right away, then the
    // next tick on its grid (a burst would have fired the missed ticks back to back).
    assert!(first < 150.0, "first tick {first} ms after RUN");
    assert!(
        second - first > 40.0,
        "second tick {second} ms vs first {first} ms"
    );
}

#[test]
fn with_no_ide_listening_one_warning_and_the_run_is_unchanged() {
    let dir = TempDir::new();
    dir.write(
        "n.lua",
        "setTimeout(function() print('later') os.exit(3) end, 10)\nprint('now')\n",
    );
    let port = free_port().to_string();
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["--debugger", "--debugger-port", &port, "n.lua"]);
    let out = run(cmd);
    out.assert_code(3);
    out.assert_lines(&["now", "later"]);
    out.assert_stderr_contains("no IDE listening at 127.0.0.1:");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn a_breakpoint_in_a_websocket_message_handler_pauses_it() {
    let dir = TempDir::new();
    let port = free_port().to_string();
    dir.write(
        "ws.lua",
        "local srv = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(srv, 'message', function(client, data)
  local got = data
  _PY.websocket_server_send(srv, client, 'echo ' .. got)
end)
_PY.websocket_server_start(srv, '127.0.0.1', tonumber(arg[1]))
local c = _PY.websocket_client_create()
_PY.websocket_add_event_listener(c, 'connected', function() _PY.websocket_send(c, 'hi') end)
_PY.websocket_add_event_listener(c, 'dataReceived', function(data)
  print(data)
  _PY.websocket_close(c)
  _PY.websocket_server_close(srv)
end)
_PY.websocket_connect(c, 'ws://127.0.0.1:' .. arg[1] .. '/')
",
    );
    let commands = [
        "SETB ws.lua 4",
        "RUN",
        "WAIT",
        "EXEC return got",
        "EXEC got = 'changed'",
        "DELB ws.lua 4",
        "RUN",
    ];
    let (out, t) = debug_session(&dir, &["ws.lua", &port], &commands);
    out.assert_code(0);
    assert_eq!(reply(&t, "WAIT", 0), "WAIT => 202 Paused ws.lua 4");
    assert!(
        reply(&t, "EXEC return got", 0).contains("\\\"hi\\\""),
        "{t:#?}"
    );
    out.assert_lines(&["echo changed"]);
}

#[test]
fn output_redirects_print_to_the_ide_with_204() {
    let dir = TempDir::new();
    dir.write("o.lua", "print('to the ide')\n");
    let (out, t) = debug_session(&dir, &["o.lua"], &["OUTPUT stdout r", "RUN"]);
    out.assert_code(0);
    assert_eq!(reply(&t, "OUTPUT", 0), "OUTPUT stdout r => 200 OK");
    assert!(
        t.iter()
            .any(|l| l == "late: 204 Output stdout 11\\nto the ide\\n"),
        "{t:#?}"
    );
    assert!(!out.stdout.contains("to the ide"), "{}", out.stdout);
}

#[test]
fn basedir_maps_absolute_and_relative_paths_including_files_of_a_quickapp() {
    let dir = TempDir::new();
    let base = dir.path().to_string_lossy().into_owned();
    dir.write(
        "lib/inc.lua",
        "function helper(x)\n  local doubled = x * 2\n  return doubled\nend\n",
    );
    dir.write(
        "qa.lua",
        "--%%name:Paths\n--%%file:lib/inc.lua,helper\nfunction QuickApp:onInit()\n  self:debug('helper', helper(21))\nend\n",
    );
    dir.write("elsewhere/.keep", "");
    let basedir = format!("BASEDIR {base}/");
    let absolute = format!("SETB {base}/qa.lua 4");
    let commands = [
        basedir.as_str(),
        "SETB lib/inc.lua 2",
        absolute.as_str(),
        "RUN",
        "WAIT",
        "RUN",
        "WAIT",
        "EXEC return doubled, x",
        "RUN",
    ];
    // Run from another directory with the QA's absolute path: chunk names are absolute.
    let (ide, port) = python_server(IDE, &commands);
    let mut cmd = plua();
    cmd.current_dir(dir.path().join("elsewhere"))
        .args([
            "--debugger-port",
            &port.to_string(),
            "--fibaro",
            "--no-api",
            "-o",
        ])
        .arg(format!("{base}/qa.lua"));
    let out = Running::start(cmd, false).finish(GUARD);
    let transcript = ide.finish(GUARD);
    let t: Vec<String> = transcript.lines().iter().map(|l| (*l).to_owned()).collect();
    out.assert_code(0);
    assert_eq!(reply(&t, "BASEDIR", 0), format!("{basedir} => 200 OK"));
    assert_eq!(reply(&t, "WAIT", 0), "WAIT => 202 Paused qa.lua 4");
    assert_eq!(reply(&t, "WAIT", 1), "WAIT => 202 Paused lib/inc.lua 2");
    assert!(
        reply(&t, "EXEC return doubled", 0).contains("{\"nil\", \"21\"}"),
        "{t:#?}"
    );
    out.assert_stdout_contains("helper 42");
}

#[test]
fn a_script_starts_and_ends_the_debugger_itself_with_require_mobdebug() {
    let dir = TempDir::new();
    dir.write(
        "s.lua",
        "local mobdebug = require('mobdebug')\nmobdebug.start('127.0.0.1', tonumber(arg[1]))\nlocal a = 1\nmobdebug.done()\nprint('after done', a, mobdebug.connected())\n",
    );
    let (ide, port) = python_server(IDE, &["STEP", "WAIT", "RUN"]);
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["s.lua", &port.to_string()]);
    let out = Running::start(cmd, false).finish(GUARD);
    let transcript = ide.finish(GUARD);
    let t: Vec<String> = transcript.lines().iter().map(|l| (*l).to_owned()).collect();
    out.assert_code(0);
    assert_eq!(reply(&t, "WAIT", 0), "WAIT => 202 Paused s.lua 4");
    assert_eq!(t.last().map(String::as_str), Some("EOF"));
    out.assert_lines(&["after done\t1\tfalse"]);
}

#[test]
fn suspend_pauses_a_busy_loop_and_exec_can_end_it() {
    let dir = TempDir::new();
    dir.write(
        "busy.lua",
        "local stop, n = false, 0\nwhile not stop do\n  n = n + 1\nend\nprint('stopped', n > 0)\n",
    );
    let commands = [
        "RUN",
        "SLEEP:200",
        "SUSPEND",
        "WAIT",
        "EXEC stop = true",
        "RUN",
    ];
    let (out, t) = debug_session(&dir, &["busy.lua"], &commands);
    out.assert_code(0);
    let paused = reply(&t, "WAIT", 0);
    assert!(
        paused == "WAIT => 202 Paused busy.lua 2" || paused == "WAIT => 202 Paused busy.lua 3",
        "{t:#?}"
    );
    out.assert_lines(&["stopped\ttrue"]);
}
