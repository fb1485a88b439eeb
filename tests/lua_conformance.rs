//! Where plua's Lua must read as stock Lua 5.4: `print` is a C function and `require`'s
//! "module not found" message lists exactly the standard searchers' lines.

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
