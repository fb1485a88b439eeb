//! Process lifetime: exit when nothing is alive, `_PY.unref` / `_PY.ref`, and the
//! `_PY.has_active_timers` / `_PY.has_active_intervals` queries.

mod support;

use std::time::Duration;

use support::run_script;

#[test]
fn script_with_one_timeout_exits_0_after_it_fires() {
    let out = run_script(
        "setTimeout(function() print('fired') end, 100)\nprint('main done')\n",
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["main done", "fired"]);
}

#[test]
fn script_with_nothing_pending_exits_immediately_with_0() {
    let out = run_script("print('only line')\n", &[]);
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["only line"]);
    // Generous bound: there is no hidden wait (a 1 s or 60 s linger would fail this).
    assert!(
        out.elapsed < Duration::from_secs(5),
        "took {:?}",
        out.elapsed
    );
}

#[test]
fn unref_interval_lets_the_process_exit() {
    let out = run_script(
        r#"
local id = setInterval(function() print("tick") end, 50)
_PY.unref(id)
setTimeout(function() print("done") end, 200)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_stdout_contains("done");
    // The unref'd interval still runs while something else keeps the process alive.
    assert!(
        out.stdout.contains("tick"),
        "unref'd interval never ticked: {}",
        out.stdout
    );
}

#[test]
fn unref_timeout_does_not_keep_the_process_alive() {
    let out = run_script(
        r#"
local id = setTimeout(function() print("should not fire") end, 3000)
_PY.unref(id)
print("main done")
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["main done"]);
}

#[test]
fn ref_puts_an_unrefd_interval_back() {
    let out = run_script(
        r#"
local n, id = 0
id = setInterval(function()
  n = n + 1
  print("tick", n)
  if n == 3 then clearInterval(id) end
end, 20)
_PY.unref(id)
_PY.ref(id)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["tick\t1", "tick\t2", "tick\t3"]);
}

#[test]
fn sleeping_callback_keeps_the_process_alive() {
    let out = run_script(
        r#"
setTimeout(function()
  _PY.sleep(0.3)
  print("woke up")
end, 0)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["woke up"]);
}

#[test]
fn callback_yielded_and_never_resumed_does_not_keep_the_process_alive() {
    let out = run_script(
        r#"
setTimeout(function()
  print("yielding")
  coroutine.yield()
  print("never")
end, 0)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["yielding"]);
}

#[test]
fn has_active_timers_and_intervals_report_pending_timers() {
    let out = run_script(
        r#"
print("start", _PY.has_active_timers(), _PY.has_active_intervals())
local t = setTimeout(function() end, 1000)
print("timeout", _PY.has_active_timers(), _PY.has_active_intervals())
clearTimeout(t)
print("cleared timeout", _PY.has_active_timers())
local i = setInterval(function() end, 1000)
print("interval", _PY.has_active_intervals())
clearInterval(i)
print("cleared interval", _PY.has_active_timers(), _PY.has_active_intervals())
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "start\tfalse\tfalse",
        "timeout\ttrue\tfalse",
        "cleared timeout\tfalse",
        "interval\ttrue",
        "cleared interval\tfalse\tfalse",
    ]);
}

#[test]
fn fired_timeout_is_no_longer_active() {
    let out = run_script(
        r#"
setTimeout(function() print("fired") end, 10)
print("pending", _PY.has_active_timers())
_PY.sleep(0.1)
print("after it fired", _PY.has_active_timers())
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "pending\ttrue",
        "fired",
        "after it fired\tfalse",
    ]);
}
