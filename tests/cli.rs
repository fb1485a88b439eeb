//! Command-line handling: -e order, -l, the `arg` table and `...`, scripts from stdin,
//! --version / --help, -d.

mod support;

use support::{TempDir, plua, run, run_named_script, run_with_stdin};

#[test]
fn e_chunks_run_in_order_before_the_script() {
    let dir = TempDir::new();
    dir.write("script.lua", "print('script')\n");
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["-e", "print(1)", "-e", "print(2)", "script.lua"]);
    run(cmd)
        .assert_code(0)
        .assert_no_panic()
        .assert_lines(&["1", "2", "script"]);
}

#[test]
fn e_chunks_share_globals() {
    let mut cmd = plua();
    cmd.args(["-e", "x = 20", "-e", "print(x + 1)"]);
    run(cmd)
        .assert_code(0)
        .assert_no_panic()
        .assert_lines(&["21"]);
}

#[test]
fn l_option_binds_a_standard_module() {
    let mut cmd = plua();
    cmd.args(["-l", "string", "-e", "print(type(string))"]);
    run(cmd)
        .assert_code(0)
        .assert_no_panic()
        .assert_lines(&["table"]);
}

#[test]
fn l_option_requires_a_module_from_the_current_directory() {
    let dir = TempDir::new();
    dir.write(
        "mymod.lua",
        "print('loading mymod')\nreturn { value = 99 }\n",
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["-l", "mymod", "-e", "print(mymod.value)"]);
    run(cmd)
        .assert_code(0)
        .assert_no_panic()
        .assert_lines(&["loading mymod", "99"]);
}

#[test]
fn l_option_with_a_dotted_name_binds_the_last_part() {
    let dir = TempDir::new();
    dir.write("pkg/inner.lua", "return { name = 'inner' }\n");
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["-l", "pkg.inner", "-e", "print(inner.name)"]);
    run(cmd)
        .assert_code(0)
        .assert_no_panic()
        .assert_lines(&["inner"]);
}

#[test]
fn arg_table_and_varargs_match_standard_lua() {
    let out = run_named_script(
        "script.lua",
        r##"
print("arg0", arg[0])
print("arg1", arg[1], "arg2", arg[2], "len", #arg)
print("neg", type(arg[-1]))
local i = -1
while arg[i - 1] ~= nil do i = i - 1 end
print("first", arg[i])
print("varargs", select("#", ...), ...)
"##,
        &[],
        &["a", "b"],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines.len(), 5, "{lines:?}\n{}", out.stderr);
    assert!(
        lines[0].starts_with("arg0\t") && lines[0].ends_with("script.lua"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "arg1\ta\targ2\tb\tlen\t2");
    assert_eq!(lines[2], "neg\tstring");
    assert!(
        lines[3].ends_with("plua"),
        "lowest negative index should be the interpreter: {lines:?}"
    );
    assert_eq!(lines[4], "varargs\t2\ta\tb");
}

#[test]
fn arg_negative_indices_hold_the_options() {
    let out = run_named_script(
        "script.lua",
        "print(arg[-2], arg[-1], arg[1])\n",
        &["-e", "x=1"],
        &["z"],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["-e\tx=1\tz"]);
}

#[test]
fn script_arguments_that_look_like_options_go_to_the_script() {
    let out = run_named_script(
        "script.lua",
        "print(#arg, arg[1], arg[2])\n",
        &[],
        &["--bogus", "-e"],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["2\t--bogus\t-e"]);
}

#[test]
fn script_is_read_from_stdin_when_no_arguments_are_given() {
    run_with_stdin(&[], "print(\"from stdin\")\n")
        .assert_code(0)
        .assert_no_panic()
        .assert_lines(&["from stdin"]);
}

#[test]
fn dash_reads_the_script_from_stdin() {
    run_with_stdin(
        &["-"],
        "print(\"dash\", 1 + 1)\nsetTimeout(function() print('timer from stdin') end, 10)\n",
    )
    .assert_code(0)
    .assert_no_panic()
    .assert_lines(&["dash\t2", "timer from stdin"]);
}

#[test]
fn dash_passes_script_arguments() {
    run_with_stdin(&["-", "p", "q"], "print(#arg, arg[1], arg[2], ...)\n")
        .assert_code(0)
        .assert_no_panic()
        .assert_lines(&["2\tp\tq\tp\tq"]);
}

#[test]
fn error_in_a_stdin_script_exits_1() {
    let out = run_with_stdin(&["-"], "print('ok')\nerror('stdin boom')\n");
    out.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains("stdin boom");
}

#[test]
fn version_prints_and_exits_0() {
    for flag in ["-v", "--version"] {
        let mut cmd = plua();
        cmd.arg(flag);
        let out = run(cmd);
        out.assert_code(0).assert_no_panic();
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(all.contains("plua"), "{flag}: {all}");
        assert!(
            all.chars().any(|c| c.is_ascii_digit()),
            "{flag} shows no version number: {all}"
        );
    }
}

#[test]
fn help_prints_usage_and_exits_0() {
    for flag in ["-h", "--help"] {
        let mut cmd = plua();
        cmd.arg(flag);
        let out = run(cmd);
        out.assert_code(0).assert_no_panic();
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            all.contains("-e") && all.contains("--run-for"),
            "{flag}: {all}"
        );
    }
}

#[test]
fn debug_flag_sets_py_debug() {
    let mut cmd = plua();
    cmd.args(["-d", "-e", "print(_PY.debug)"]);
    let out = run(cmd);
    out.assert_code(0)
        .assert_no_panic()
        .assert_stdout_contains("true");
    let mut cmd = plua();
    cmd.args(["-e", "print(_PY.debug)"]);
    let out = run(cmd);
    out.assert_code(0).assert_no_panic();
    assert!(
        !out.stdout.contains("true"),
        "_PY.debug should not be true without -d: {}",
        out.stdout
    );
}

#[test]
fn version_globals_and_mainfile_are_set() {
    let out = run_named_script(
        "main_file.lua",
        "print(type(_PLUA_VERSION), _VERSION)\nprint(_PY.mainfile)\n",
        &[],
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines[0], "string\tLua 5.4");
    assert!(lines[1].ends_with("main_file.lua"), "{lines:?}");
}

#[test]
fn debug_flag_logs_the_runtime_on_stderr() {
    let mut cmd = plua();
    cmd.args(["-d", "-e", "setTimeout(function() end, 5)"]);
    let out = run(cmd);
    out.assert_code(0)
        .assert_no_panic()
        .assert_stderr_contains("plua: debug: starting -e chunk")
        .assert_stderr_contains("nothing alive");
}

#[test]
fn lua_init_runs_before_everything_like_lua() {
    let dir = TempDir::new();
    let init = dir.write("init.lua", "print('init file')\n");
    let mut cmd = plua();
    cmd.env("LUA_INIT", format!("@{}", init.display()))
        .args(["-e", "print('chunk')"]);
    run(cmd)
        .assert_code(0)
        .assert_lines(&["init file", "chunk"]);

    let mut cmd = plua();
    cmd.env("LUA_INIT_5_4", "print('versioned')")
        .env("LUA_INIT", "print('plain')")
        .args(["-e", "print('chunk')"]);
    run(cmd)
        .assert_code(0)
        .assert_lines(&["versioned", "chunk"]);
}
