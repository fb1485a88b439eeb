//! Where plua's Lua must read as stock Lua 5.4 (what the official test suite checks): `print`
//! and the wrapped `coroutine` functions are C functions, `require`'s "module not found"
//! message lists exactly the standard searchers' lines, and the deliberate deviation (the main
//! chunk is a coroutine) is pinned down too.

mod support;

use support::run_script;

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
