//! A light pass over the `_PY` helper functions: JSON, base64, files, time, environment.

mod support;

use support::{TempDir, plua, run, run_script};

#[test]
fn to_json_encodes_a_table() {
    let out = run_script(
        r#"
print(_PY.to_json({a = 1}))
print(_PY.to_json({1, 2, 3}))
print(_PY.to_json("q\"uote"))
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["{\"a\":1}", "[1,2,3]", "\"q\\\"uote\""]);
}

#[test]
fn parse_json_decodes_arrays_and_objects() {
    let out = run_script(
        r#"
local arr = _PY.parse_json('[1,2,3]')
print(#arr, arr[1], arr[2], arr[3])
local obj = _PY.parse_json('{"name":"plua","nested":{"ok":true},"list":["x"]}')
print(obj.name, obj.nested.ok, obj.list[1])
local back = _PY.parse_json(_PY.to_json({k = "v", n = 2.5}))
print(back.k, back.n)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["3\t1\t2\t3", "plua\ttrue\tx", "v\t2.5"]);
}

#[test]
fn parse_json_returns_nil_and_a_message_on_bad_input() {
    let out = run_script(
        r#"
local v, msg = _PY.parse_json('{bad')
print(v, type(msg), #msg > 0)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["nil\tstring\ttrue"]);
}

#[test]
fn base64_encodes_and_round_trips_binary_data() {
    let out = run_script(
        r#"
print(_PY.base64_encode("hello"))
print(_PY.base64_decode("aGVsbG8="))
local bin = "a\0b\255c"
local enc = _PY.base64_encode(bin)
print(enc)
local dec = _PY.base64_decode(enc)
print(#dec, dec == bin)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["aGVsbG8=", "hello", "YQBi/2M=", "5\ttrue"]);
}

#[test]
fn file_helpers_round_trip_in_a_temp_dir() {
    let dir = TempDir::new();
    dir.write(
        "files.lua",
        r#"
local path = "written.txt"
print("exists before", _PY.file_exists(path))
_PY.write_file(path, "line one\nline two\n")
print("exists after", _PY.file_exists(path))
print("size", _PY.get_file_size(path))
io.write(_PY.read_file(path))
"#,
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path()).arg("files.lua");
    let out = run(cmd);
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "exists before\tfalse",
        "exists after\ttrue",
        "size\t18",
        "line one",
        "line two",
    ]);
    let on_disk = std::fs::read_to_string(dir.path().join("written.txt")).expect("file written");
    assert_eq!(on_disk, "line one\nline two\n");
}

#[test]
fn get_time_is_a_number() {
    let out = run_script(
        r#"
local t1 = _PY.get_time()
_PY.sleep(0.05)
local t2 = _PY.get_time()
print(type(t1), t2 > t1)
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["number\ttrue"]);
}

#[test]
fn get_env_var_reads_the_environment_with_a_default() {
    let dir = TempDir::new();
    dir.write(
        "env.lua",
        r#"
print(_PY.get_env_var("PLUA_TEST_FROM_ENV"))
print(_PY.get_env_var("HOME") ~= nil)
print(_PY.get_env_var("NOPE_XYZ", "dflt"))
print(_PY.get_env_var("NOPE_XYZ"))
"#,
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .arg("env.lua")
        .env("PLUA_TEST_FROM_ENV", "env value")
        .env("HOME", dir.path())
        .env_remove("NOPE_XYZ");
    let out = run(cmd);
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["env value", "true", "dflt", "nil"]);
}

#[test]
fn dot_env_in_the_working_directory_provides_values_without_overriding_the_environment() {
    let dir = TempDir::new();
    dir.write(
        ".env",
        "PLUA_TEST_DOTENV_ONLY=from_dotenv\nPLUA_TEST_BOTH=from_dotenv\n",
    );
    dir.write(
        "dotenv.lua",
        r#"
print(_PY.get_env_var("PLUA_TEST_DOTENV_ONLY"))
print(_PY.get_env_var("PLUA_TEST_BOTH"))
"#,
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .arg("dotenv.lua")
        .env_remove("PLUA_TEST_DOTENV_ONLY")
        .env("PLUA_TEST_BOTH", "from_environment");
    let out = run(cmd);
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["from_dotenv", "from_environment"]);
}

#[test]
fn dot_env_in_a_parent_directory_is_found() {
    let dir = TempDir::new();
    dir.write(".env", "PLUA_TEST_PARENT_DOTENV=from_parent\n");
    dir.write(
        "sub/script.lua",
        "print(_PY.get_env_var('PLUA_TEST_PARENT_DOTENV'))\n",
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path().join("sub"))
        .arg("script.lua")
        .env_remove("PLUA_TEST_PARENT_DOTENV");
    run(cmd)
        .assert_code(0)
        .assert_no_panic()
        .assert_lines(&["from_parent"]);
}

#[test]
fn html2console_always_renders_colour_and_print_strips_on_a_pipe() {
    let out = run_script(
        r#"
local s = _PY.html2console("<font color=red>x</font>&nbsp;<br>y")
print((s:gsub("\27", "ESC")))
print("<font color=red>z</font>")
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    // html2console is an explicit conversion: ANSI colour (xterm-256 red = 9) like the original.
    assert!(
        out.stdout.contains("ESC[38;5;9mxESC[0m \ny"),
        "html2console output: {:?}",
        out.stdout
    );
    // print on a pipe strips the markup.
    assert!(
        out.stdout.lines().any(|line| line == "z"),
        "print: {:?}",
        out.stdout
    );
    assert_eq!(
        out.stdout.matches('\x1b').count(),
        0,
        "raw ESC on a pipe: {:?}",
        out.stdout
    );
}

#[test]
fn pairs_over_py_lists_the_helpers_that_load_on_first_use() {
    let out = run_script(
        r#"
local seen = {}
for name, value in pairs(_PY) do
  seen[name] = type(value)
end
for _, name in ipairs({ "read_file", "to_json", "tcp_connect", "udp_bind", "http_server_start",
    "http_request_async", "start_web_server", "websocket_send", "websocket_server_start",
    "setTimeout", "sleep" }) do
  print(name, seen[name])
end
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    for name in [
        "read_file",
        "to_json",
        "tcp_connect",
        "udp_bind",
        "http_server_start",
        "http_request_async",
        "start_web_server",
        "websocket_send",
        "websocket_server_start",
        "setTimeout",
        "sleep",
    ] {
        let line = format!("{name}\tfunction");
        assert!(
            out.lines().contains(&line.as_str()),
            "missing {line:?}\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
}
