//! Where plua's Lua must read as stock Lua 5.4 (what the official test suite checks): `print`
//! and the wrapped `coroutine` functions are C functions, `require`'s "module not found"
//! message lists exactly the standard searchers' lines, `os.exit(code, true)` closes the state,
//! and the `lua` command-line behaviours plua shares (`-l g=mod`, the script's `...` from `arg`,
//! the REPL's `_PROMPT`, `=expr` and unfinished lines); the deliberate deviation (the main chunk
//! is a coroutine) is pinned down too.

mod support;

use support::{plua, run, run_script, run_with_stdin};

#[test]
fn print_is_a_c_function_as_in_stock_lua() {
    let out = run_script(
        "print(debug.getinfo(print).what)\n\
         print(pcall(string.dump, print))\n\
         print(pcall(debug.upvaluejoin, print, 1, function() end, 1))\n",
        &[],
    );
    out.assert_code(0);
    out.assert_lines(&[
        "C",
        "false\tunable to dump given function",
        "false\tbad argument #2 to 'debug.upvaluejoin' (invalid upvalue index)",
    ]);
}

#[test]
fn print_converts_like_stock_lua() {
    let out = run_script(
        "print(1, 2.5, -0.0, 2^63, nil, true)\n\
         print(setmetatable({}, {__tostring = function() return 'custom' end}))\n\
         print((tostring(setmetatable({}, {__name = 'Thing'})):match('^Thing: ')))\n\
         print(pcall(print, setmetatable({}, {__tostring = function() return {} end})))\n\
         print()\n\
         print('a\\0b')\n",
        &[],
    );
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        "1\t2.5\t-0.0\t9.2233720368548e+18\tnil\ttrue\ncustom\nThing: \n\
         false\t'__tostring' must return a string\n\na\0b\n"
    );
}

#[test]
fn a_failed_require_lists_only_the_standard_searchers() {
    let out = run_script(
        "local ok, message = pcall(require, 'no_such_module')\n\
         print(message)\n",
        &[],
    );
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "module 'no_such_module' not found:");
    assert_eq!(lines[1], "\tno field package.preload['no_such_module']");
    assert!(lines[2].starts_with("\tno file '"), "{}", out.stdout);
    assert!(!out.stdout.contains("embedded"), "{}", out.stdout);
}

#[test]
fn coroutine_resume_wrap_and_running_are_c_functions_with_stock_errors() {
    let out = run_script(
        "print(debug.getinfo(coroutine.resume).what, debug.getinfo(coroutine.wrap).what,\n\
               debug.getinfo(coroutine.running).what)\n\
         print(pcall(string.dump, coroutine.resume))\n\
         print(pcall(coroutine.resume, 0))\n\
         print(pcall(coroutine.wrap, 0))\n\
         print(pcall(coroutine.resume))\n\
         local w = coroutine.wrap(function() error('boom') end)\n\
         print(pcall(w))\n\
         print(pcall(w))\n\
         local t = {}\n\
         print(select('#', pcall(coroutine.wrap(function() error(t) end))))\n\
         print(coroutine.resume(coroutine.create(function(...) return select('#', ...) end), nil, nil))\n",
        &[],
    );
    out.assert_code(0).assert_lines(&[
        "C\tC\tC",
        "false\tunable to dump given function",
        "false\tbad argument #1 to 'coroutine.resume' (thread expected, got number)",
        "false\tbad argument #1 to 'coroutine.wrap' (function expected, got number)",
        "false\tbad argument #1 to 'coroutine.resume' (thread expected, got no value)",
        "false\tscript.lua:7: boom",
        "false\tcannot resume dead coroutine",
        "2",
        "true\t2",
    ]);
}

#[test]
fn a_coroutine_only_its_sleeping_resume_refers_to_survives_collections() {
    let out = run_script(
        "setTimeout(function() collectgarbage() collectgarbage() end, 5)\n\
         setTimeout(function() collectgarbage() end, 20)\n\
         print(coroutine.resume(coroutine.create(function()\n\
           _PY.sleep(0.05)\n\
           return 'woke'\n\
         end)))\n",
        &[],
    );
    out.assert_code(0).assert_lines(&["true\twoke"]);
}

#[test]
fn resuming_the_running_coroutine_fails_and_keeps_its_waits_working() {
    let out = run_script(
        "local gen = coroutine.wrap(function()\n\
           print(coroutine.resume(coroutine.running()))\n\
           _PY.sleep(0.01)\n\
           coroutine.yield('after sleep')\n\
         end)\n\
         print(gen())\n",
        &[],
    );
    out.assert_code(0).assert_lines(&[
        "false\tcannot resume non-suspended coroutine",
        "after sleep",
    ]);
}

#[test]
fn the_main_chunk_is_a_coroutine_not_the_main_thread() {
    // A deliberate deviation (README, "Lua conformance"): the main chunk may wait.
    let out = run_script(
        "local co, is_main = coroutine.running()\n\
         print(type(co), is_main, coroutine.isyieldable())\n",
        &[],
    );
    out.assert_code(0).assert_lines(&["thread\tfalse\ttrue"]);
}

#[test]
fn warn_is_off_until_at_on_and_writes_lua_warning_lines_to_stderr() {
    let out = run_script(
        "warn('not shown')\n\
         warn('@on')\n\
         warn('#first ', 'in ', 'pieces')\n\
         warn('@off')\n\
         warn('hidden again')\n\
         warn('@on')\n\
         warn('@unknown control is ignored')\n\
         warn('second')\n\
         print(pcall(warn))\n",
        &[],
    );
    out.assert_code(0)
        .assert_lines(&["false\tbad argument #1 to 'warn' (string expected, got no value)"]);
    assert_eq!(
        out.stderr, "Lua warning: #first in pieces\nLua warning: second\n",
        "{}",
        out.stderr
    );
}

#[test]
fn os_exit_with_close_closes_the_main_chunks_variables_then_runs_finalizers() {
    let out = run_script(
        "setmetatable({}, {__gc = function() print('finalized') end})\n\
         local first <close> = setmetatable({}, {__close = function(_, err)\n\
           print('closed first', err)\n\
         end})\n\
         local second <close> = setmetatable({}, {__close = function() print('closed second') end})\n\
         os.exit(3, true)\n\
         print('not reached')\n",
        &[],
    );
    out.assert_code(3)
        .assert_lines(&["closed second", "closed first\tnil", "finalized"]);
}

#[test]
fn os_exit_without_close_skips_finalizers_as_in_stock_lua() {
    let out = run_script(
        "setmetatable({}, {__gc = function() print('finalized') end})\n\
         print('before')\n\
         os.exit(false)\n",
        &[],
    );
    out.assert_code(1).assert_lines(&["before"]);
}

#[test]
fn os_exit_from_a_finalizer_at_the_end_of_a_run_sets_the_status_and_the_others_still_run() {
    // Finalizers run in reverse order of marking: the second object's runs first.
    let out = run_script(
        "setmetatable({}, {__gc = function() print('first object') end})\n\
         setmetatable({}, {__gc = function() print('second object') os.exit(4, true) end})\n\
         print('end of script')\n",
        &[],
    );
    out.assert_code(4)
        .assert_lines(&["end of script", "second object", "first object"]);
}

#[test]
fn the_scripts_varargs_come_from_the_arg_table_as_the_e_chunks_left_it() {
    let dir = support::TempDir::new();
    dir.write("show.lua", "print(select('#', ...), ...)\n");
    let mut cmd = plua();
    cmd.current_dir(dir.path()).args([
        "-e",
        "arg[2] = 20; arg[3] = 'added'",
        "show.lua",
        "one",
        "two",
    ]);
    run(cmd).assert_code(0).assert_lines(&["3\tone\t20\tadded"]);

    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["-e", "arg = 'gone'", "show.lua", "one"]);
    let out = run(cmd);
    out.assert_code(1)
        .assert_stderr_contains("'arg' is not a table");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn dash_l_with_an_equals_sign_binds_the_given_global() {
    let mut cmd = plua();
    cmd.args([
        "-l",
        "m=math",
        "-lstr=string",
        "-e",
        "print(m == math, str == string, rawget(_G, 'm=math'))",
    ]);
    run(cmd).assert_code(0).assert_lines(&["true\ttrue\tnil"]);
}

#[test]
fn an_unfinished_assignment_in_the_repl_waits_for_its_value() {
    let out = run_with_stdin(&["-i"], "answer =\n42\nprint(answer)\n");
    out.assert_code(0);
    assert!(
        out.stdout.starts_with("plua> >> plua> 42\n"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn an_equals_sign_before_an_expression_in_the_repl_prints_it() {
    let out = run_with_stdin(&["-i"], "x = 6\n=x * 7\n");
    out.assert_code(0);
    assert!(out.stdout.contains("plua> 42\n"), "{}", out.stdout);
}

#[test]
fn the_repl_shows_prompt_and_prompt2_when_the_script_sets_them() {
    let out = run_with_stdin(
        &["-e", "_PROMPT = 'in: ' _PROMPT2 = 'more: '", "-i"],
        "t = {\n1}\nprint(#t)\n",
    );
    out.assert_code(0);
    assert_eq!(out.stdout, "in: more: in: 1\nin: \n");

    // Any value, through tostring, asked again for each prompt.
    let out = run_with_stdin(
        &[
            "-e",
            "local n = 0 _PROMPT = setmetatable({}, {__tostring = function() n = n + 1 return '<' .. n .. '>' end})",
            "-i",
        ],
        "x = 1\n",
    );
    out.assert_code(0);
    assert_eq!(out.stdout, "<1><2>\n");
}
