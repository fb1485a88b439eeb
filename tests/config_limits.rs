//! `.plua.lua` keys for the limits: `memory_limit` (MB) and `callback_timeout` (seconds) stand
//! in for `--memory-limit` and `--callback-timeout` when the command line leaves them out; the
//! command line wins; a bad value is a warning and is ignored.

mod support;

use support::{TempDir, plua, run};

/// Runs `script.lua` in a directory holding `.plua.lua` = `config`, with HOME pointing there
/// too (so the user's own file plays no part).
fn run_with_config(config: &str, opts: &[&str], script: &str) -> support::Output {
    let dir = TempDir::new();
    dir.write(".plua.lua", config);
    dir.write("script.lua", script);
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .env("HOME", dir.path())
        .args(opts)
        .arg("script.lua");
    run(cmd)
}

const RUNAWAY_TIMER: &str = "setTimeout(function() while true do end end, 0)\n\
                             setTimeout(function() print('next callback runs') end, 50)\n";

#[test]
fn callback_timeout_from_the_config_file_stops_a_runaway_callback() {
    let out = run_with_config("{ callback_timeout = 0.3 }", &[], RUNAWAY_TIMER);
    out.assert_no_panic().assert_code(0);
    out.assert_stdout_contains("next callback runs");
    out.assert_stderr_contains("callback timeout");
}

#[test]
fn the_command_line_wins_over_the_config_file() {
    let out = run_with_config(
        "return { callback_timeout = 100 }",
        &["--callback-timeout", "0.3"],
        RUNAWAY_TIMER,
    );
    out.assert_no_panic().assert_code(0);
    out.assert_stdout_contains("next callback runs");
}

#[test]
fn memory_limit_from_the_config_file_raises_not_enough_memory_and_the_process_goes_on() {
    let out = run_with_config(
        "{ memory_limit = 16 }",
        &[],
        "local ok, err = pcall(function() local t = {} for i = 1, 1e8 do t[i] = ('x'):rep(64) .. i end end)\n\
         print(ok, err)\n\
         collectgarbage()\n\
         print('still here')\n",
    );
    out.assert_no_panic().assert_code(0);
    out.assert_lines(&["false\tnot enough memory", "still here"]);
}

#[test]
fn a_bad_limit_value_is_a_warning_and_ignored() {
    let out = run_with_config(
        "{ memory_limit = 'lots', callback_timeout = -1 }",
        &[],
        "print('ran')\n",
    );
    out.assert_code(0).assert_lines(&["ran"]);
    out.assert_stderr_contains("memory_limit must be a positive number");
    out.assert_stderr_contains("callback_timeout must be a non-negative number");
}

#[test]
fn a_file_naming_a_limit_runs_once_at_start_up_and_feeds_pluaconfig() {
    let home = TempDir::new();
    let dir = TempDir::new();
    dir.write(
        ".plua.lua",
        "local f = io.open('runs', 'a') f:write('x') f:close()\n\
         return { callback_timeout = 5, other = 'kept' }\n",
    );
    dir.write(
        "script.lua",
        "local f = io.open('runs') print('at start', f and f:read('a'))\n\
         print(_PY.pluaconfig.other, _PY.pluaconfig.callback_timeout)\n\
         print('runs', io.open('runs'):read('a'))\n",
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .env("HOME", home.path())
        .arg("script.lua");
    let out = run(cmd);
    out.assert_code(0)
        .assert_lines(&["at start\tx", "kept\t5", "runs\tx"]);
}
