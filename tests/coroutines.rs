//! The coroutine model: every callback and the main chunk run in coroutines; yielding callbacks,
//! resuming them from elsewhere, and `_PY.sleep` suspending only its caller.

mod support;

use support::{plua, run, run_script};

#[test]
fn main_chunk_runs_in_a_yieldable_coroutine() {
    let out = run_script(
        r#"
local co, ismain = coroutine.running()
print(coroutine.isyieldable(), ismain)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["true\tfalse"]);
}

#[test]
fn each_timer_callback_runs_in_its_own_coroutine() {
    let out = run_script(
        r#"
local seen = {}
local function cb(name)
  local co, ismain = coroutine.running()
  print(name, coroutine.isyieldable(), ismain)
  seen[#seen + 1] = co
  if #seen == 2 then print("distinct", seen[1] ~= seen[2]) end
end
setTimeout(cb, 0, "first")
setTimeout(cb, 10, "second")
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "first\ttrue\tfalse",
        "second\ttrue\tfalse",
        "distinct\ttrue",
    ]);
}

#[test]
fn finished_callback_coroutine_stays_dead_while_later_callbacks_run() {
    let out = run_script(
        r#"
local first
setTimeout(function() first = coroutine.running() end, 0)
setTimeout(function()
  local me = coroutine.running()
  print(coroutine.status(first), first == me)
end, 20)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["dead\tfalse"]);
}

#[test]
fn yielding_interval_keeps_firing() {
    let out = run_script(
        r#"
local n, id = 0
id = setInterval(function()
  n = n + 1
  print("tick", n)
  if n == 5 then
    clearInterval(id)
    print("done")
    return
  end
  coroutine.yield()           -- never resumed
  print("never printed")
end, 20)
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "tick\t1", "tick\t2", "tick\t3", "tick\t4", "tick\t5", "done",
    ]);
}

#[test]
fn callback_coroutine_can_be_resumed_from_another_timer() {
    let out = run_script(
        r#"
local co
setTimeout(function()
  co = coroutine.running()
  print("A waiting")
  local v = coroutine.yield()
  print("resumed with", v)
end, 10)
setTimeout(function()
  print("B resumes")
  local ok, err = coroutine.resume(co, "hello")
  print("resume ok", ok, err)
end, 80)
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "A waiting",
        "B resumes",
        "resumed with\thello",
        "resume ok\ttrue\tnil",
    ]);
}

#[test]
fn resumed_callback_coroutine_can_yield_again() {
    let out = run_script(
        r#"
local co
setTimeout(function()
  co = coroutine.running()
  for i = 1, 3 do
    local v = coroutine.yield(i)
    print("got", v)
  end
end, 0)
setTimeout(function()
  print(coroutine.resume(co, "a"))
  print(coroutine.resume(co, "b"))
  print(coroutine.resume(co, "c"))
  print(coroutine.status(co))
end, 50)
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "got\ta", "true\t2", "got\tb", "true\t3", "got\tc", "true", "dead",
    ]);
}

#[test]
fn py_sleep_at_top_level_lets_timers_fire_meanwhile() {
    let out = run_script(
        r#"
setTimeout(function() print("timer") end, 50)
print("before sleep")
_PY.sleep(0.2)
print("after sleep")
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["before sleep", "timer", "after sleep"]);
}

#[test]
fn py_sleep_inside_a_callback_suspends_only_that_callback() {
    let out = run_script(
        r#"
setTimeout(function()
  print("A start")
  _PY.sleep(0.3)
  print("A end")
end, 0)
setTimeout(function() print("B") end, 50)
print("main done")
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["main done", "A start", "B", "A end"]);
}

#[test]
fn py_sleep_in_an_interval_does_not_block_other_timers() {
    let out = run_script(
        r#"
local n, id = 0
id = setInterval(function()
  n = n + 1
  if n == 1 then
    print("interval sleeping")
    _PY.sleep(0.3)
    print("interval woke")
    clearInterval(id)
  end
end, 20)
setTimeout(function() print("other timer") end, 120)
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    let pos = |s: &str| {
        lines
            .iter()
            .position(|l| *l == s)
            .unwrap_or_else(|| panic!("missing {s:?} in {lines:?}"))
    };
    assert!(pos("interval sleeping") < pos("other timer"), "{lines:?}");
    assert!(pos("other timer") < pos("interval woke"), "{lines:?}");
}

#[test]
fn py_sleep_works_in_e_chunks() {
    let mut cmd = plua();
    cmd.args([
        "-e",
        "setTimeout(function() print('timer') end, 20)",
        "-e",
        "print('sleeping') _PY.sleep(0.2) print('after')",
    ]);
    let out = run(cmd);
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["sleeping", "timer", "after"]);
}

#[test]
fn py_sleep_where_yield_is_impossible_blocks_instead_of_failing() {
    let out = run_script(
        r#"
local t = {3, 1, 2}
local ok, err = pcall(table.sort, t, function(a, b) _PY.sleep(0.01) return a < b end)
print(ok, err)
print(table.concat(t, ","))
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["true\tnil", "1,2,3"]);
}

#[test]
fn sequential_sleeps_in_main_keep_program_order() {
    let out = run_script(
        r#"
for i = 1, 3 do
  _PY.sleep(0.02)
  print("step", i)
end
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["step\t1", "step\t2", "step\t3"]);
}
