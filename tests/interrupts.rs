//! Nothing a script does keeps the process from ending: a main chunk suspended with nothing to
//! resume it ends the run with a warning, and SIGINT/SIGTERM or the `--run-for -N` deadline
//! stop Lua that never returns to the loop, with the usual exit status.

mod support;

use std::time::Duration;

use support::{Running, TempDir, plua, run};

/// Starts `src` as a script and waits until it printed `busy`.
fn start_busy(src: &str) -> Running {
    let dir = TempDir::new();
    dir.write("busy.lua", src);
    let mut child = Running::script(&dir, &[], "busy.lua");
    child.wait_for_stdout("busy");
    child
}

#[test]
fn a_bare_yield_in_the_main_chunk_ends_the_run_with_a_warning() {
    let mut cmd = plua();
    cmd.args(["-e", "coroutine.yield()"]);
    let out = run(cmd);
    out.assert_no_panic()
        .assert_code(0)
        .assert_stderr_contains("warning: the main chunk is suspended and nothing is left");
}

#[test]
fn later_chunks_run_after_a_stranded_main_chunk() {
    let mut cmd = plua();
    cmd.args([
        "-e",
        "print(1) coroutine.yield() print('never')",
        "-e",
        "print(2)",
    ]);
    let out = run(cmd);
    out.assert_no_panic()
        .assert_code(0)
        .assert_lines(&["1", "2"]);
}

#[test]
fn a_main_chunk_resumed_by_a_timer_is_not_stranded() {
    let mut cmd = plua();
    cmd.args([
        "-e",
        "local co = coroutine.running()\n\
         setTimeout(function() coroutine.resume(co, 'resumed') end, 30)\n\
         print(coroutine.yield())",
    ]);
    let out = run(cmd);
    out.assert_no_panic()
        .assert_code(0)
        .assert_lines(&["resumed"]);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

#[test]
fn sigterm_stops_a_busy_callback_with_143() {
    let child = start_busy(
        "setTimeout(function() print('busy') io.stdout:flush() while true do end end, 0)\n",
    );
    child.signal("TERM");
    let out = child.finish(Duration::from_secs(10));
    out.assert_no_panic().assert_code(143);
    assert!(!out.stderr.contains("Error in"), "{}", out.stderr);
}

#[test]
fn sigint_stops_a_busy_main_chunk_with_130() {
    let child = start_busy("print('busy') io.stdout:flush() while true do end\n");
    child.signal("INT");
    child
        .finish(Duration::from_secs(10))
        .assert_no_panic()
        .assert_code(130);
}

#[test]
fn a_busy_callback_cannot_swallow_the_interrupt_with_pcall() {
    let child = start_busy(
        "setTimeout(function()\n\
           print('busy') io.stdout:flush()\n\
           while true do pcall(function() while true do end end) end\n\
         end, 0)\n",
    );
    child.signal("INT");
    child
        .finish(Duration::from_secs(10))
        .assert_no_panic()
        .assert_code(130);
}

#[test]
fn sigterm_stops_a_busy_loop_where_nothing_can_yield() {
    let child = start_busy(
        "setTimeout(function()\n\
           print('busy') io.stdout:flush()\n\
           table.sort({3, 2, 1}, function(a, b) while true do end end)\n\
         end, 0)\n",
    );
    child.signal("TERM");
    child
        .finish(Duration::from_secs(10))
        .assert_no_panic()
        .assert_code(143);
}

#[test]
fn a_busy_nested_coroutine_ends_within_the_grace_period_or_at_a_second_signal() {
    let src = "setTimeout(function()\n\
                 print('busy') io.stdout:flush()\n\
                 coroutine.wrap(function() while true do end end)()\n\
               end, 0)\n";
    // The hook cannot reach a coroutine that was already running: the grace period ends it.
    let child = start_busy(src);
    child.signal("TERM");
    child.finish(Duration::from_secs(15)).assert_code(143);
    // A second signal does not wait for the grace period.
    let child = start_busy(src);
    child.signal("INT");
    std::thread::sleep(Duration::from_millis(100));
    child.signal("INT");
    child.finish(Duration::from_secs(15)).assert_code(130);
}

#[test]
fn run_for_exactly_stops_a_busy_callback() {
    let mut cmd = plua();
    cmd.args([
        "--run-for",
        "-0.5",
        "-e",
        "setTimeout(function() print('busy') io.stdout:flush() while true do end end, 0)",
    ]);
    let out = run(cmd);
    out.assert_no_panic().assert_code(0).assert_lines(&["busy"]);
}
