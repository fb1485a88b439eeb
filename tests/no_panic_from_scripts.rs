//! Numbers and finalizers a script controls never panic the runtime: huge timeouts in option
//! tables are clamped by the one duration conversion (the next timer still runs), and
//! finalizers that run while the state closes at exit may still call plua's functions.

mod support;

use support::{plua, run, run_script};

/// Each call gets a timeout no `Duration` can hold; the timer after it must still fire.
fn assert_survives(call: &str) {
    let script = format!(
        "setTimeout(function() {call} end, 0)\n\
         setTimeout(function() print('alive') os.exit(0) end, 100)\n"
    );
    let out = run_script(&script, &[]);
    out.assert_no_panic()
        .assert_code(0)
        .assert_stdout_contains("alive");
}

#[test]
fn a_huge_read_timeout_of_an_http_server_is_clamped() {
    assert_survives(
        r#"_PY.http_server_start("127.0.0.1", 0, function() end, {read_timeout = 1e300})"#,
    );
}

#[test]
fn a_huge_idle_timeout_of_an_http_server_is_clamped() {
    assert_survives(
        r#"_PY.http_server_start("127.0.0.1", 0, function() end, {idle_timeout = 9.3e18})"#,
    );
}

#[test]
fn a_huge_timeout_of_a_websocket_server_is_clamped() {
    assert_survives(
        r#"local ws = _PY.websocket_server_create() _PY.websocket_server_start(ws, "127.0.0.1", 0, {read_timeout = 1e300, idle_timeout = math.huge})"#,
    );
}

#[test]
fn a_huge_timeout_of_the_blocking_pool_is_clamped() {
    assert_survives(
        r#"_PY.http_request_blocking_pool({url = "http://127.0.0.1:1/", timeout = 1e300}, function() end)"#,
    );
}

#[test]
fn huge_timeouts_of_sync_calls_where_nothing_can_yield_are_clamped() {
    // Inside a table.sort comparator the sync forms block instead of yielding.
    assert_survives(
        r#"local t = {2, 1}
           table.sort(t, function(a, b)
             local srv = _PY.tcp_server_create_sync("127.0.0.1", 0)
             _PY.tcp_connect_sync("127.0.0.1", 1, {timeout = 1e300})
             return a < b
           end)"#,
    );
}

#[test]
fn a_huge_sleep_where_nothing_can_yield_does_not_panic() {
    let out = run_script(
        "local ok, err = pcall(table.sort, {2, 1}, function(a, b) _PY.sleep(-1) return a < b end)\n\
         print('sorted', ok)\n",
        &[],
    );
    out.assert_no_panic()
        .assert_code(0)
        .assert_stdout_contains("sorted\ttrue");
}

#[test]
fn run_for_with_a_huge_number_does_not_panic() {
    // "at least 1e300 s": runs like forever; the script ends it itself.
    let mut cmd = plua();
    cmd.args([
        "--run-for",
        "1e300",
        "-e",
        "setTimeout(function() print('ran') os.exit(3) end, 10)",
    ]);
    let out = run(cmd);
    out.assert_no_panic()
        .assert_code(3)
        .assert_stdout_contains("ran");
    let mut cmd = plua();
    cmd.args([
        "--run-for",
        "-1e300",
        "-e",
        "setTimeout(function() print('ran') os.exit(4) end, 10)",
    ]);
    let out = run(cmd);
    out.assert_no_panic()
        .assert_code(4)
        .assert_stdout_contains("ran");
}

#[test]
fn a_finalizer_that_resurrects_its_object_may_print_at_exit() {
    let out = run_script(
        "KEEP = setmetatable({}, {__gc = function(o)\n\
           _G.resurrected = o\n\
           setTimeout(function() end, 10)\n\
           print('finalized', type(o))\n\
         end})\n\
         print('end of script')\n",
        &[],
    );
    out.assert_no_panic()
        .assert_code(0)
        .assert_lines(&["end of script", "finalized\ttable"]);
}

#[test]
fn to_be_closed_variables_and_erroring_finalizers_at_exit_are_harmless() {
    let out = run_script(
        "G = setmetatable({}, {__gc = function() print('gc') error('in finalizer') end})\n\
         local t <close> = setmetatable({}, {__close = function() print('closed') end})\n",
        &[],
    );
    out.assert_no_panic()
        .assert_code(0)
        .assert_lines(&["closed", "gc"]);
}
