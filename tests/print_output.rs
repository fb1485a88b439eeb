//! `print` behaves like standard Lua's, and output to a pipe is never lost.

mod support;

use support::{plua, run, run_script};

#[test]
fn print_is_tab_separated_tostring_like_standard_lua() {
    let out = run_script("print(nil, true, 1.5, {})\n", &[]);
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("nil\ttrue\t1.5\ttable: 0x"),
        "{:?}",
        lines[0]
    );
}

#[test]
fn print_formats_numbers_like_lua_5_4() {
    let out = run_script(
        "print(1, 10 // 3, 7 / 2, 2^53, -0.0, 1e100, math.maxinteger)\n",
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["1\t3\t3.5\t9.007199254741e+15\t-0.0\t1e+100\t9223372036854775807"]);
}

#[test]
fn print_uses_tostring_metamethods_and_name_fields() {
    let out = run_script(
        r#"
local obj = setmetatable({}, {__tostring = function() return "custom object" end})
local named = setmetatable({}, {__name = "MyType"})
print(obj)
print((tostring(named):gsub("0x%x+", "ADDR")))
print(print == print, type(print))
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "custom object",
        "MyType: ADDR",
        "true\tfunction",
    ]);
}

#[test]
fn print_with_no_arguments_prints_an_empty_line() {
    let out = run_script("print('a')\nprint()\nprint('b')\n", &[]);
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.stdout, "a\n\nb\n");
}

#[test]
fn print_raises_an_error_when_tostring_fails() {
    let out = run_script(
        r#"
local bad = setmetatable({}, {__tostring = function() return {} end})
print(pcall(print, bad))
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("false\t"), "{lines:?}");
    assert!(lines[0].contains("__tostring"), "{lines:?}");
}

#[test]
fn print_and_io_write_interleave_in_program_order() {
    let out = run_script(
        "io.write('A')\nprint('B')\nio.write('C\\n')\nio.stdout:write('D\\n')\nprint('E')\n",
        &[],
    );
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.stdout, "AB\nC\nD\nE\n");
}

#[test]
fn large_output_to_a_pipe_is_not_lost() {
    let out = run_script(
        r#"
for i = 1, 20000 do print(string.format("%05d %s", i, string.rep("x", 40))) end
setTimeout(function() print("from timer") end, 10)
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines.len(), 20001, "last: {:?}", lines.last());
    assert!(lines[19999].starts_with("20000 "));
    assert_eq!(lines[20000], "from timer");
}

#[test]
fn output_is_not_lost_after_an_error_exit() {
    let out = run_script(
        "for i = 1, 500 do print(i) end\nerror('late failure')\n",
        &[],
    );
    out.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains("late failure");
    assert_eq!(out.lines().len(), 500);
    assert_eq!(out.lines()[499], "500");
}

#[test]
fn html_in_print_is_stripped_on_a_pipe_even_with_no_color() {
    let mut cmd = plua();
    cmd.env("NO_COLOR", "1")
        .args(["-e", "print('<font color=\"green\">ok</font> done')"]);
    let out = run(cmd);
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["ok done"]);
}
