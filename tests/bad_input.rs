//! Bad input gives a clear message and a proper exit code, never a panic.

mod support;

use support::{TempDir, plua, run, run_named_script, run_script};

/// Runs `expr` (a call expected to fail) under pcall and returns the printed message line.
fn pcall_message(call: &str) -> String {
    let src = format!(
        "local ok, err = pcall(function() return {call} end)\nprint(ok)\nprint(tostring(err))\n"
    );
    let out = run_script(&src, &[]);
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(
        lines.first().copied(),
        Some("false"),
        "{call} did not fail: {lines:?}\n{}",
        out.stderr
    );
    lines.get(1).map(|s| s.to_string()).unwrap_or_default()
}

#[test]
fn missing_script_file_exits_1_naming_the_file() {
    let dir = TempDir::new();
    let mut cmd = plua();
    cmd.current_dir(dir.path()).arg("no_such_script_xyz.lua");
    let out = run(cmd);
    out.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains("no_such_script_xyz.lua");
}

#[test]
fn syntax_error_exits_1_naming_file_and_line() {
    let out = run_named_script("broken.lua", "print('fine')\nlocal x = = 1\n", &[], &[]);
    out.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains("broken.lua:2:");
    assert!(
        !out.stdout.contains("fine"),
        "a script with a syntax error must not run: {}",
        out.stdout
    );
}

#[test]
fn set_timeout_with_a_non_function_names_the_function() {
    let msg = pcall_message("setTimeout(\"notafunction\", 10)");
    assert!(
        msg.contains("setTimeout") && msg.contains("function expected"),
        "{msg}"
    );
}

#[test]
fn set_interval_with_a_non_function_names_the_function() {
    let msg = pcall_message("setInterval(42, 10)");
    assert!(
        msg.contains("setInterval") && msg.contains("function expected"),
        "{msg}"
    );
}

#[test]
fn set_timeout_with_a_string_delay_wants_a_number() {
    let msg = pcall_message("setTimeout(function() end, \"abc\")");
    assert!(
        msg.contains("setTimeout") && msg.contains("number expected"),
        "{msg}"
    );
}

#[test]
fn set_timeout_with_a_nan_delay_is_an_error() {
    let msg = pcall_message("setTimeout(function() end, 0/0)");
    assert!(msg.contains("setTimeout"), "{msg}");
}

#[test]
fn set_timeout_with_a_huge_delay_is_too_large() {
    let msg = pcall_message("setTimeout(function() end, 1e300)");
    assert!(msg.contains("too large"), "{msg}");
    let msg = pcall_message("setInterval(function() end, math.huge)");
    assert!(msg.contains("setInterval"), "{msg}");
}

#[test]
fn set_timeout_with_a_negative_delay_runs_and_warns() {
    let out = run_script(
        r#"
setTimeout(function() print("ran") end, -5)
print("main")
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["main", "ran"]);
    assert!(
        out.stderr.to_lowercase().contains("negative"),
        "no warning: {}",
        out.stderr
    );
}

#[test]
fn clear_timeout_with_a_string_wants_a_timer_id() {
    let msg = pcall_message("clearTimeout(\"x\")");
    assert!(
        msg.contains("clearTimeout") && msg.contains("timer id expected"),
        "{msg}"
    );
    let msg = pcall_message("clearInterval({})");
    assert!(
        msg.contains("clearInterval") && msg.contains("timer id expected"),
        "{msg}"
    );
}

#[test]
fn uncaught_bad_timer_argument_exits_1() {
    let out = run_script(
        "print('start')\nsetTimeout(\"notafunction\", 10)\nprint('not reached')\n",
        &[],
    );
    out.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains("function expected")
        .assert_stderr_contains("script.lua:2:");
    out.assert_lines(&["start"]);
}

#[test]
fn non_string_error_value_in_main_exits_1_without_panic() {
    let out = run_script("error({code = 42})\n", &[]);
    out.assert_code(1).assert_no_panic();
    assert!(!out.stderr.trim().is_empty(), "no error message at all");
}

#[test]
fn error_with_nil_value_exits_1_without_panic() {
    let out = run_script("error()\n", &[]);
    out.assert_code(1).assert_no_panic();
}

#[test]
fn stack_overflow_is_a_lua_error_not_a_crash() {
    let out = run_script("local function f() return 1 + f() end\nf()\n", &[]);
    out.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains("stack overflow");
}

#[test]
fn stack_overflow_caught_by_pcall_lets_the_script_continue() {
    let out = run_script(
        "local function f() return 1 + f() end\nprint(pcall(f))\nprint('continued')\n",
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_stdout_contains("false")
        .assert_stdout_contains("continued");
}

#[test]
fn binary_garbage_script_is_reported_not_crashed() {
    let dir = TempDir::new();
    std::fs::write(
        dir.path().join("garbage.lua"),
        [0xffu8, 0xfe, 0x00, 0x01, 0x80, 0x0a, 0x7f],
    )
    .unwrap();
    let mut cmd = plua();
    cmd.current_dir(dir.path()).arg("garbage.lua");
    let out = run(cmd);
    out.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains("garbage.lua");
}

#[test]
fn directory_as_script_exits_1() {
    let dir = TempDir::new();
    std::fs::create_dir(dir.path().join("adir.lua")).unwrap();
    let mut cmd = plua();
    cmd.current_dir(dir.path()).arg("adir.lua");
    let out = run(cmd);
    out.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains("adir.lua");
}
