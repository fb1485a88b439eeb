//! `--run-for N`: 0 runs until Ctrl-C, N>0 runs at least N s then exits when idle, N<0 runs
//! exactly abs(N) s.

mod support;

use std::time::Duration;

use support::{GUARD, READY, Running, TempDir, plua, run, run_script_with_opts};

#[test]
fn run_for_negative_stops_a_script_with_a_forever_interval() {
    let out = run_script_with_opts(
        &["--run-for", "-1"],
        r#"
local n = 0
setInterval(function() n = n + 1; print("tick", n) end, 100)
"#,
    );
    out.assert_code(0).assert_no_panic();
    assert!(
        out.stdout.contains("tick\t1"),
        "interval never ticked: {}",
        out.stdout
    );
    // "exactly abs(N) seconds": it must not stop early.
    assert!(
        out.elapsed >= Duration::from_millis(900),
        "stopped after {:?}",
        out.elapsed
    );
}

#[test]
fn run_for_negative_keeps_an_idle_script_running_for_the_whole_time() {
    let out = run_script_with_opts(&["--run-for", "-1"], "print('idle script')\n");
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["idle script"]);
    assert!(
        out.elapsed >= Duration::from_millis(900),
        "stopped after {:?}",
        out.elapsed
    );
}

#[test]
fn run_for_positive_runs_pending_timers_and_exits_0() {
    let out = run_script_with_opts(
        &["--run-for", "1"],
        r#"setTimeout(function() print("timer output") end, 300)"#,
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["timer output"]);
}

#[test]
fn run_for_positive_waits_at_least_n_seconds_for_an_idle_script() {
    let out = run_script_with_opts(&["--run-for", "1"], "print('nothing pending')\n");
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["nothing pending"]);
    assert!(
        out.elapsed >= Duration::from_millis(900),
        "stopped after {:?}",
        out.elapsed
    );
}

#[test]
fn run_for_positive_still_waits_for_timers_beyond_n_seconds() {
    let out = run_script_with_opts(
        &["--run-for", "1"],
        r#"setTimeout(function() print("late timer") end, 1500)"#,
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["late timer"]);
}

#[test]
fn run_for_zero_keeps_an_idle_script_alive_until_sigint() {
    let dir = TempDir::new();
    dir.write("idle.lua", &format!("{READY}\n"));
    let mut child = Running::script(&dir, &["--run-for", "0"], "idle.lua");
    child.wait_for_output("ready");
    // An idle script without --run-for would have exited by now.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.is_running(),
        "--run-for 0 exited on its own:\n{}",
        child.stderr_text()
    );
    child.signal("INT");
    child.finish(GUARD).assert_code(130).assert_no_panic();
}

#[test]
fn run_for_zero_still_runs_timers() {
    let dir = TempDir::new();
    dir.write(
        "timers.lua",
        "setTimeout(function() print('timer ran') io.stdout:flush() io.stderr:write('timer ran\\n') end, 50)\n",
    );
    let mut child = Running::script(&dir, &["--run-for", "0"], "timers.lua");
    child.wait_for_output("timer ran");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        child.is_running(),
        "--run-for 0 exited after its timers were done"
    );
    child.signal("INT");
    child.finish(GUARD).assert_code(130).assert_no_panic();
}

#[test]
fn run_for_with_a_non_number_is_a_usage_error() {
    let mut cmd = plua();
    cmd.args(["--run-for", "abc", "-e", "print('x')"]);
    let out = run(cmd);
    out.assert_code(2)
        .assert_no_panic()
        .assert_stderr_contains("--help");
    assert!(!out.stdout.contains('x'), "{}", out.stdout);
}

#[test]
fn run_for_negative_ends_a_main_chunk_that_is_still_sleeping() {
    let out = run_script_with_opts(
        &["--run-for", "-1"],
        "print('before long sleep')\n_PY.sleep(60)\nprint('never reached')\n",
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["before long sleep"]);
}

#[test]
fn run_for_applies_to_e_chunks_without_a_script() {
    let mut cmd = plua();
    cmd.args([
        "--run-for",
        "-1",
        "-e",
        "setInterval(function() print('e tick') end, 200)",
    ]);
    let out = run(cmd);
    out.assert_code(0)
        .assert_no_panic()
        .assert_stdout_contains("e tick");
    assert!(
        out.elapsed >= Duration::from_millis(900),
        "stopped after {:?}",
        out.elapsed
    );
}
