//! `--memory-limit MB` and `--callback-timeout S`: a script past its memory gets "not enough
//! memory" where it allocates and goes on; a callback that computes past its CPU budget gets an
//! error inside it (a timer callback is reported, an HTTP handler answers 500), and the next
//! callback runs. (The watchdog is on by default for `--fibaro`, 10 s.)

mod support;

use support::{Running, TempDir, curl, http_server_script, plua, run};

#[test]
fn past_the_memory_limit_an_allocation_fails_and_the_script_goes_on() {
    let mut cmd = plua();
    cmd.args([
        "--memory-limit",
        "16",
        "-e",
        "local ok, err = pcall(function() local t = {} for i = 1, 1e8 do t[i] = {i} end end)\n\
         print(ok, err)\n\
         collectgarbage()\n\
         setTimeout(function() print('after', collectgarbage('count') < 16 * 1024) end, 10)",
    ]);
    let out = run(cmd);
    out.assert_no_panic()
        .assert_code(0)
        .assert_lines(&["false\tnot enough memory", "after\ttrue"]);
    let mut cmd = plua();
    cmd.args(["--memory-limit", "-3", "-e", ""]);
    run(cmd)
        .assert_code(2)
        .assert_stderr_contains("'--memory-limit'");
}

#[test]
fn a_runaway_timer_callback_gets_an_error_and_the_next_timer_runs() {
    let mut cmd = plua();
    cmd.args([
        "--callback-timeout",
        "0.3",
        "-e",
        "setTimeout(function() pcall(function() while true do end end) while true do end end, 0)\n\
         setTimeout(function() print('next timer runs') end, 5)",
    ]);
    let out = run(cmd);
    out.assert_no_panic()
        .assert_code(0)
        .assert_lines(&["next timer runs"])
        .assert_stderr_contains("callback timeout");
}

#[test]
fn a_runaway_http_handler_answers_500_and_the_next_request_is_served() {
    let dir = TempDir::new();
    dir.write(
        "server.lua",
        &http_server_script(
            "function(req) if req.path == '/spin' then while true do end end return 200, 'fine' end",
            "nil",
        ),
    );
    let mut server = Running::script(&dir, &["--callback-timeout", "0.3"], "server.lua");
    let port = server.line_after("port=").trim().to_owned();
    let spun = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("http://127.0.0.1:{port}/spin"),
    ]);
    assert_eq!(spun.stdout.trim(), "500", "{}", spun.stderr);
    let fine = curl(&["-s", &format!("http://127.0.0.1:{port}/ok")]);
    assert_eq!(fine.stdout, "fine");
    server.kill_and_collect().assert_no_panic();
}

#[test]
fn a_runaway_quickapp_callback_is_logged_and_the_host_stays_responsive() {
    let dir = TempDir::new();
    dir.write(
        "spin.lua",
        "function QuickApp:onInit()\n\
           fibaro.setTimeout(0, function() while true do end end)\n\
           fibaro.setTimeout(20, function() self:debug('host still responsive') end)\n\
         end\n",
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path()).args([
        "--fibaro",
        "-o",
        "--no-api",
        "--callback-timeout",
        "0.3",
        "spin.lua",
    ]);
    let out = run(cmd);
    out.assert_no_panic().assert_code(0);
    out.assert_stdout_contains("host still responsive");
    out.assert_stdout_contains("callback timeout");
}
