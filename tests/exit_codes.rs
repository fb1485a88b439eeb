//! Exit codes: normal end, errors in chunks, usage errors, os.exit, and signals.

mod support;

use support::{READY, Running, TempDir, plua, run, run_named_script, run_script};

#[test]
fn normal_end_exits_with_0() {
    let out = run_script("print('hi')\n", &[]);
    out.assert_code(0).assert_no_panic().assert_lines(&["hi"]);
    assert!(
        out.stderr.trim().is_empty(),
        "unexpected stderr: {}",
        out.stderr
    );
}

#[test]
fn error_in_main_script_exits_1_with_file_and_line() {
    let out = run_script(
        "local x = 1\nprint('before')\nerror(\"boom\")\nprint('after')\n",
        &[],
    );
    out.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains("script.lua:3: boom");
    out.assert_lines(&["before"]);
}

#[test]
fn error_message_names_the_actual_script_file() {
    let out = run_named_script(
        "my_app.lua",
        "\n\n\n\nlocal t = nil\nerror('kaput')\n",
        &[],
        &[],
    );
    out.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains("my_app.lua:6: kaput");
}

#[test]
fn error_in_main_script_prints_a_traceback() {
    let out = run_script(
        "local function inner()\n  error('deep')\nend\ninner()\n",
        &[],
    );
    out.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains("script.lua:2: deep")
        .assert_stderr_contains("traceback");
}

#[test]
fn runtime_error_in_main_script_exits_1() {
    let out = run_script("local t = nil\nprint(t.field)\n", &[]);
    out.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains("script.lua:2:");
}

#[test]
fn error_in_an_e_chunk_exits_1() {
    let mut cmd = plua();
    cmd.args(["-e", "error('from e')"]);
    let out = run(cmd);
    out.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains("from e");
}

#[test]
fn failing_l_module_exits_1() {
    let dir = TempDir::new();
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["-l", "no_such_module_xyz", "-e", "print('unreached')"]);
    let out = run(cmd);
    out.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains("no_such_module_xyz");
    assert!(!out.stdout.contains("unreached"), "{}", out.stdout);
}

#[test]
fn unknown_option_is_a_usage_error_with_exit_2() {
    let mut cmd = plua();
    cmd.args(["--bogus"]);
    let out = run(cmd);
    out.assert_code(2)
        .assert_no_panic()
        .assert_stderr_contains("--bogus")
        .assert_stderr_contains("--help");
}

#[test]
fn option_missing_its_value_is_a_usage_error() {
    let mut cmd = plua();
    cmd.args(["-e"]);
    let out = run(cmd);
    out.assert_code(2)
        .assert_no_panic()
        .assert_stderr_contains("--help");
}

#[test]
fn os_exit_returns_the_given_code() {
    let out = run_script("print('bye')\nos.exit(7)\nprint('not reached')\n", &[]);
    out.assert_code(7).assert_no_panic().assert_lines(&["bye"]);
}

#[test]
fn os_exit_does_not_lose_output_written_to_a_pipe() {
    let out = run_script(
        "for i = 1, 1000 do print('line ' .. i) end\nos.exit(7)\n",
        &[],
    );
    out.assert_code(7).assert_no_panic();
    let lines = out.lines();
    assert_eq!(
        lines.len(),
        1000,
        "got {} lines; last: {:?}",
        lines.len(),
        lines.last()
    );
    assert_eq!(lines[0], "line 1");
    assert_eq!(lines[999], "line 1000");
}

#[test]
fn os_exit_does_not_lose_io_write_output() {
    let out = run_script(
        "io.write('partial line without newline')\nos.exit(3)\n",
        &[],
    );
    out.assert_code(3).assert_no_panic();
    assert_eq!(out.stdout, "partial line without newline");
}

#[test]
fn os_exit_true_is_0_and_false_is_1() {
    run_script("os.exit(true)\n", &[])
        .assert_code(0)
        .assert_no_panic();
    run_script("os.exit(false)\n", &[])
        .assert_code(1)
        .assert_no_panic();
}

#[test]
fn os_exit_from_a_timer_callback_ends_the_process() {
    let out = run_script(
        r#"
setInterval(function() end, 1000)
setTimeout(function() print("exiting") os.exit(5) end, 20)
"#,
        &[],
    );
    out.assert_code(5)
        .assert_no_panic()
        .assert_lines(&["exiting"]);
}

fn spawn_forever(signal_name: &str) -> support::Output {
    let dir = TempDir::new();
    dir.write(
        "forever.lua",
        &format!("setInterval(function() end, 1000)\n{READY}\n"),
    );
    let mut child = Running::script(&dir, &[], "forever.lua");
    child.wait_for_output("ready");
    child.signal(signal_name);
    child.finish(support::GUARD)
}

#[test]
fn sigint_exits_with_130() {
    let out = spawn_forever("INT");
    out.assert_code(130).assert_no_panic();
}

#[test]
fn sigterm_exits_with_143() {
    let out = spawn_forever("TERM");
    out.assert_code(143).assert_no_panic();
}

#[test]
fn sigint_keeps_output_printed_before_it() {
    let dir = TempDir::new();
    dir.write(
        "forever.lua",
        &format!("for i = 1, 500 do print('early ' .. i) end\nsetInterval(function() end, 1000)\n{READY}\n"),
    );
    let mut child = Running::script(&dir, &[], "forever.lua");
    child.wait_for_output("ready");
    child.signal("INT");
    let out = child.finish(support::GUARD);
    out.assert_code(130).assert_no_panic();
    out.assert_stdout_contains("early 1\n")
        .assert_stdout_contains("early 500\n");
}
