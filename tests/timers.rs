//! setTimeout / setInterval / clearTimeout / clearInterval: ordering, arguments, cancellation,
//! and what happens when a callback fails.

mod support;

use support::run_script;

#[test]
fn timeouts_with_different_delays_fire_in_deadline_order() {
    let out = run_script(
        r#"
setTimeout(function() print("c") end, 150)
setTimeout(function() print("a") end, 30)
setTimeout(function() print("b") end, 90)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["a", "b", "c"]);
}

#[test]
fn timeouts_with_equal_delay_fire_in_the_order_they_were_set() {
    let out = run_script(
        r#"
for i = 1, 20 do
  setTimeout(function() print(i) end, 10)
end
"#,
        &[],
    );
    let expected: Vec<String> = (1..=20).map(|i| i.to_string()).collect();
    let expected: Vec<&str> = expected.iter().map(|s| s.as_str()).collect();
    out.assert_code(0).assert_no_panic().assert_lines(&expected);
}

#[test]
fn zero_delay_timeouts_fire_in_the_order_they_were_set() {
    let out = run_script(
        r#"
setTimeout(function() print("z1") end, 0)
setTimeout(function() print("z2") end)        -- nil delay means 0
setTimeout(function() print("z3") end, 0)
setTimeout(function() print("later") end, 50)
setTimeout(function() print("z4") end, 0)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["z1", "z2", "z3", "z4", "later"]);
}

#[test]
fn set_timeout_zero_never_runs_synchronously() {
    let out = run_script(
        r#"
local ran = false
setTimeout(function() ran = true; print("callback") end, 0)
print("after setTimeout", ran)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["after setTimeout\tfalse", "callback"]);
}

#[test]
fn extra_arguments_are_passed_to_the_callback() {
    let out = run_script(
        r#"
setTimeout(function(a, b) print(a, b) end, 10, "x", 42)
local n, id = 0
id = setInterval(function(tag, k)
  n = n + 1
  print(tag, k, n)
  if n == 2 then clearInterval(id) end
end, 10, "iv", 7)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_stdout_contains("x\t42\n");
    out.assert_stdout_contains("iv\t7\t1\n")
        .assert_stdout_contains("iv\t7\t2\n");
}

#[test]
fn interval_cleared_in_its_own_callback_stops_after_exactly_n_ticks() {
    let out = run_script(
        r#"
local n, id = 0
id = setInterval(function()
  n = n + 1
  print("tick", n)
  if n == 5 then
    clearInterval(id)
    -- several more periods pass before this runs: no further tick may appear
    setTimeout(function() print("count", n) end, 100)
  end
end, 10)
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "tick\t1", "tick\t2", "tick\t3", "tick\t4", "tick\t5", "count\t5",
    ]);
}

#[test]
fn clear_returns_true_only_when_it_cancelled_something() {
    let out = run_script(
        r#"
local id = setTimeout(function() print("cancelled timeout fired") end, 50)
print("pending", clearTimeout(id))
print("again", clearTimeout(id))
print("nil", clearTimeout(nil))
print("unknown", clearTimeout(987654))
local iid = setInterval(function() print("cancelled interval fired") end, 10)
print("interval", clearInterval(iid))
print("interval again", clearInterval(iid))
print("interval nil", clearInterval(nil))
print("interval unknown", clearInterval(987655))
local fired = setTimeout(function() print("fired") end, 0)
setTimeout(function() print("after fire", clearTimeout(fired)) end, 60)
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "pending\ttrue",
        "again\tfalse",
        "nil\tfalse",
        "unknown\tfalse",
        "interval\ttrue",
        "interval again\tfalse",
        "interval nil\tfalse",
        "interval unknown\tfalse",
        "fired",
        "after fire\tfalse",
    ]);
}

#[test]
fn timer_ids_are_distinct_positive_integers() {
    let out = run_script(
        r#"
local a = setTimeout(function() end, 0)
local b = setInterval(function() end, 1000)
local c = setTimeout(function() end, 0)
clearInterval(b)
print(math.type(a), math.type(b), math.type(c))
print(a > 0 and b > 0 and c > 0, a ~= b and b ~= c and a ~= c)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["integer\tinteger\tinteger", "true\ttrue"]);
}

#[test]
fn timer_functions_are_also_in_py() {
    let out = run_script(
        r#"
print(_PY.setTimeout == setTimeout or type(_PY.setTimeout) == "function")
_PY.setTimeout(function(v) print("py timeout", v) end, 10, "ok")
local id
id = _PY.setInterval(function() print("py interval"); print("cleared", _PY.clearInterval(id)) end, 10)
local t = _PY.setTimeout(function() print("never") end, 30)
print("py clear", _PY.clearTimeout(t))
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.lines()[0], "true");
    out.assert_stdout_contains("py clear\ttrue")
        .assert_stdout_contains("py timeout\tok")
        .assert_stdout_contains("py interval\ncleared\ttrue");
    assert!(!out.stdout.contains("never"), "{}", out.stdout);
}

#[test]
fn timeout_set_inside_a_callback_fires_later() {
    let out = run_script(
        r#"
setTimeout(function()
  print("outer")
  setTimeout(function() print("inner") end, 0)
  print("outer end")
end, 10)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["outer", "outer end", "inner"]);
}

#[test]
fn error_in_a_callback_keeps_the_loop_alive() {
    let out = run_script(
        r#"
setTimeout(function() error("boom") end, 10)
setTimeout(function() print("still alive") end, 100)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_stdout_contains("still alive")
        .assert_stderr_contains("Error in timer callback:")
        .assert_stderr_contains("boom")
        .assert_stderr_contains("stack traceback");
}

#[test]
fn error_in_an_interval_callback_does_not_stop_other_ticks() {
    let out = run_script(
        r#"
local n, id = 0
id = setInterval(function()
  n = n + 1
  if n == 3 then clearInterval(id) end
  print("tick", n)
  error("tick failed " .. n)
end, 10)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["tick\t1", "tick\t2", "tick\t3"]);
    assert_eq!(
        out.stderr.matches("Error in timer callback:").count(),
        3,
        "{}",
        out.stderr
    );
    out.assert_stderr_contains("tick failed 3");
}

#[test]
fn error_with_a_non_string_value_in_a_callback_is_reported() {
    let out = run_script(
        r#"
setTimeout(function() error({code = 1}) end, 0)
setTimeout(function() error(setmetatable({}, {__tostring = function() return "custom err" end})) end, 5)
setTimeout(function() print("still alive") end, 50)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_stdout_contains("still alive");
    assert_eq!(
        out.stderr.matches("Error in timer callback:").count(),
        2,
        "{}",
        out.stderr
    );
}

#[test]
fn a_timer_callback_is_the_body_of_its_task_and_a_held_handle_stays_dead() {
    let out = run_script(
        r##"
print("C function", debug.getinfo(setTimeout).what, debug.getinfo(setInterval).what)
local held
setTimeout(function()
  held = coroutine.running()
  -- the callback is the coroutine's body: no library frame under it
  print("frames", debug.traceback():find("prelude") == nil)
end, 0)
setTimeout(function(a, b, c)
  print("args", a, b, c, select("#", a, b, c))
  print("held", coroutine.status(held), coroutine.running() ~= held)
end, 20, "x", nil, 3)
"##,
        &[],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "C function\tC\tC",
        "frames\ttrue",
        "args\tx\tnil\t3\t3",
        "held\tdead\ttrue",
    ]);
}
