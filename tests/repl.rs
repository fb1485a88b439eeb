//! The REPL (`plua -i`) driven through pipes.

mod support;

use support::{GUARD, Running, TempDir, plua, run_with_stdin};

fn repl() -> Running {
    let mut cmd = plua();
    cmd.arg("-i");
    Running::start(cmd, true)
}

#[test]
fn repl_keeps_locals_fires_timers_and_exits_on_exit() {
    let out = run_with_stdin(
        &["-i"],
        "local x = 41\nx + 1\nsetTimeout(function() print(\"fired\") end, 10)\n_PY.sleep(0.2)\nx\nexit\n",
    );
    out.assert_code(0).assert_no_panic();
    out.assert_stdout_contains("42")
        .assert_stdout_contains("fired")
        .assert_stdout_contains("41");
    out.assert_stdout_contains("plua> ");
}

#[test]
fn repl_runs_timers_while_waiting_for_input() {
    let mut r = repl();
    r.send_line("local x = 41");
    r.send_line("x + 1");
    r.wait_for_stdout("42");
    r.send_line("setTimeout(function() print(\"fired while idle\") end, 10)");
    // No more input is sent until the timer has fired on its own.
    r.wait_for_stdout("fired while idle");
    r.send_line("x");
    r.wait_for_stdout("41");
    r.send_line("exit");
    let out = r.finish(GUARD);
    out.assert_code(0).assert_no_panic();
}

#[test]
fn repl_prints_expression_values_like_lua() {
    let out = run_with_stdin(&["-i"], "1 + 1\n\"str\"\nnil\n10 // 3, 2^2\n");
    out.assert_code(0).assert_no_panic();
    out.assert_stdout_contains("2")
        .assert_stdout_contains("str")
        .assert_stdout_contains("3\t4.0");
}

#[test]
fn repl_continues_an_incomplete_chunk_with_a_continuation_prompt() {
    let out = run_with_stdin(&["-i"], "function f()\nreturn 5\nend\nf()\n");
    out.assert_code(0).assert_no_panic();
    out.assert_stdout_contains(">> ")
        .assert_stdout_contains("5");
    assert!(
        !out.stderr.contains("'end' expected"),
        "chunk was not continued: {}",
        out.stderr
    );
}

#[test]
fn repl_survives_an_error_line() {
    let out = run_with_stdin(&["-i"], "error(\"bad\")\nprint(\"after error\")\n");
    out.assert_code(0).assert_no_panic();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("bad"), "error not reported: {all}");
    out.assert_stdout_contains("after error");
}

#[test]
fn repl_survives_a_syntax_error_line() {
    let out = run_with_stdin(&["-i"], "x = = 1\nprint(\"still here\")\n");
    out.assert_code(0)
        .assert_no_panic()
        .assert_stdout_contains("still here");
}

#[test]
fn repl_exits_with_0_on_end_of_input() {
    let mut r = repl();
    r.send_line("print(\"hello repl\")");
    r.wait_for_stdout("hello repl");
    r.close_stdin();
    let out = r.finish(GUARD);
    out.assert_code(0).assert_no_panic();
}

#[test]
fn repl_quit_also_leaves() {
    let out = run_with_stdin(&["-i"], "quit\nprint(\"not reached\")\n");
    out.assert_code(0).assert_no_panic();
    assert!(!out.stdout.contains("not reached"), "{}", out.stdout);
}

#[test]
fn repl_runs_after_e_chunks_and_the_script() {
    let dir = TempDir::new();
    dir.write("script.lua", "greeting = 'from script'\n");
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["-e", "n = 7", "-i", "script.lua"]);
    let mut r = Running::start(cmd, true);
    r.send_line("print(greeting, n)");
    r.wait_for_stdout("from script\t7");
    r.send_line("exit");
    r.finish(GUARD).assert_code(0).assert_no_panic();
}

#[test]
fn repl_line_can_sleep_while_timers_fire() {
    let mut r = repl();
    r.send_line("setTimeout(function() print(\"tick from timer\") end, 20)");
    r.send_line("_PY.sleep(0.2) print(\"slept\")");
    r.wait_for_stdout("slept");
    let stdout = r.stdout_text();
    let t = stdout
        .find("tick from timer")
        .expect("timer fired during sleep");
    let s = stdout.find("slept").unwrap();
    assert!(t < s, "{stdout}");
    r.send_line("exit");
    r.finish(GUARD).assert_code(0).assert_no_panic();
}

#[test]
fn help_lists_the_repl_commands_and_the_repl_goes_on() {
    let out = run_with_stdin(&["-i"], "help\n1 + 1\nexit\n");
    out.assert_code(0).assert_no_panic();
    out.assert_stdout_contains("exit, quit")
        .assert_stdout_contains("pairs(_PY)")
        .assert_stdout_contains("2");
}
