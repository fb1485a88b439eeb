//! Names and shapes scripts written for the original plua rely on: its extra `_PY` functions,
//! `_PY.pluaconfig` from `.plua.lua` files, the global `input()`, `string.split`, the module
//! aliases `plua.net` / `plua.json` / `plua.class`, `write_file` and `list_extensions`.

mod support;

use support::{GUARD, TempDir, plua, run, run_script, run_with_timeout};

#[test]
fn the_original_extra_names_exist_and_answer_like_it() {
    let out = run_script(
        r#"
print("version", _PY.get_python_version() == ("plua %s (Rust)"):format(_PY.version))
print("idle", _PY.has_active_network_operations(), _PY.has_active_tcp_server_operations(),
  _PY.has_active_websocket_operations(), _PY.has_active_websocket_server_operations())
local s = _PY.tcp_server_create()
print("created", _PY.tcp_server_is_ready(s), _PY.has_active_tcp_server_operations())
assert(_PY.tcp_server_start(s, "127.0.0.1", 0))
print("started", _PY.tcp_server_is_ready(s))
_PY.tcp_server_close(s)
print("closed", _PY.tcp_server_is_ready(s), _PY.has_active_tcp_server_operations())
print("unknown server", _PY.tcp_server_is_ready(987654))
print("alias", type(_PY.http_request))
print("unregister none", _PY.unregister_web_callback("http_request"))
print("register", _PY.register_web_callback("http_request", function() end))
print("unregister", _PY.unregister_web_callback("http_request"))
print("bad", pcall(_PY.tcp_server_is_ready, "x"))
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(
        lines[..8],
        [
            "version\ttrue",
            "idle\tfalse\tfalse\tfalse\tfalse",
            "created\tfalse\ttrue",
            "started\ttrue",
            "closed\tfalse\tfalse",
            "unknown server\tfalse",
            "alias\tfunction",
            "unregister none\tfalse\tNo callback registered for http_request",
        ],
        "{}",
        out.stderr
    );
    assert_eq!(
        lines[8],
        "register\ttrue\tCallback registered for http_request"
    );
    assert_eq!(
        lines[9],
        "unregister\ttrue\tCallback unregistered for http_request"
    );
    assert!(
        lines[10].starts_with("bad\tfalse\t")
            && lines[10].contains("tcp_server_is_ready: bad argument #1"),
        "{lines:?}"
    );
}

#[test]
fn has_active_network_operations_sees_an_open_connection() {
    let out = run_script(
        r#"
local s = _PY.tcp_server_create()
local _, _, port = _PY.tcp_server_start(s, "127.0.0.1", 0)
local ok, id = _PY.tcp_connect_sync("127.0.0.1", port)
print("open", ok, _PY.has_active_network_operations())
_PY.tcp_close_sync(id)
_PY.tcp_server_close(s)
print("closed", _PY.has_active_network_operations())
"#,
        &[],
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["open\ttrue\ttrue", "closed\tfalse"]);
}

/// Runs `script.lua` in `cwd` with `HOME=home`.
fn run_in(home: &TempDir, cwd: &TempDir, script: &str) -> support::Output {
    cwd.write("script.lua", script);
    let mut cmd = plua();
    cmd.current_dir(cwd.path())
        .env("HOME", home.path())
        .arg("script.lua");
    run(cmd)
}

#[test]
fn pluaconfig_merges_home_and_current_directory_with_the_current_directory_winning() {
    let home = TempDir::new();
    let cwd = TempDir::new();
    home.write(
        ".plua.lua",
        "-- settings\nreturn { hc3_url = 'http://home', hc3_user = 'admin', port = 1 }\n",
    );
    // A bare table constructor (no `return`) works too.
    cwd.write(".plua.lua", "{ hc3_url = 'http://here', debug = true }\n");
    let out = run_in(
        &home,
        &cwd,
        r#"
local c = _PY.pluaconfig
print(c.hc3_url, c.hc3_user, c.port, c.debug)
print(_PY.pluaconfig == c)
"#,
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["http://here\tadmin\t1\ttrue", "true"]);
}

#[test]
fn pluaconfig_is_empty_without_files_and_skips_a_bad_file_with_a_warning() {
    let home = TempDir::new();
    let cwd = TempDir::new();
    let out = run_in(
        &home,
        &cwd,
        "print(type(_PY.pluaconfig), next(_PY.pluaconfig))\n",
    );
    out.assert_code(0).assert_lines(&["table\tnil"]);

    home.write(".plua.lua", "return { from_home = 'yes' }\n");
    cwd.write(".plua.lua", "return { this is not lua\n");
    let out = run_in(&home, &cwd, "print(_PY.pluaconfig.from_home)\n");
    out.assert_code(0).assert_no_panic().assert_lines(&["yes"]);
    out.assert_stderr_contains("Warning: Failed to load config from .plua.lua");
}

#[test]
fn pluaconfig_is_read_on_first_use_not_at_start_up() {
    let home = TempDir::new();
    let cwd = TempDir::new();
    // The config leaves a marker file when it is evaluated.
    cwd.write(
        ".plua.lua",
        "local f = io.open('config-was-read', 'w') f:write('x') f:close()\nreturn { ok = 1 }\n",
    );
    let out = run_in(
        &home,
        &cwd,
        r#"
print("before", io.open("config-was-read") ~= nil)
print("value", _PY.pluaconfig.ok)
print("after", io.open("config-was-read") ~= nil)
"#,
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "before\tfalse",
        "value\t1",
        "after\ttrue",
    ]);
}

#[test]
fn global_input_reads_a_line_from_stdin() {
    let dir = TempDir::new();
    dir.write(
        "script.lua",
        "local a = input('name? ')\nlocal b = input()\nlocal c = input()\nprint('|' .. a .. '|', b, c)\n",
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path()).arg("script.lua");
    let out = run_with_timeout(cmd, Some(b"Ada\r\nsecond line\n"), GUARD);
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.stdout, "name? |Ada|\tsecond line\tnil\n");
}

#[test]
fn string_split_takes_separator_characters_literally_and_drops_empty_pieces() {
    let out = run_script(
        r#"
local function show(t) return #t .. ":" .. table.concat(t, "|") end
print(show(("a,b,,c,"):split(",")))
print(show(string.split("  one two\tthree ")))
print(show(string.split("1.2.3", ".")))
print(show(string.split("a%b]c-d^e", "%]-^")))
print(show(string.split("key=value;k2=v2", "=;")))
print(show(string.split("", ",")))
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "3:a|b|c",
        "3:one|two|three",
        "3:1|2|3",
        "5:a|b|c|d|e",
        "4:key|value|k2|v2",
        "0:",
    ]);
}

#[test]
fn module_aliases_plua_net_json_and_class_work() {
    let out = run_script(
        r#"
print("net", require("plua.net") == require("net"), type(require("plua.net").HTTPClient))
local json = require("plua.json")
print("json", json.encode({ 1, 2 }), json.decode('{"a":5}').a)
local class = require("plua.class")
print("class global", class == _G.class)
class 'Animal'
function Animal:__init(name) self.name = name end
function Animal:speak() return self.name .. " makes a sound" end
function Animal:__tostring() return "Animal(" .. self.name .. ")" end
class 'Dog'(Animal)
function Dog:__init(name) Animal.__init(self, name) self.tricks = 0 end
function Dog:speak() return self.name .. " barks" end
local a, d = Animal("cat"), Dog("rex")
print(a:speak(), d:speak(), d.tricks, tostring(d), tostring(Dog))
print(getmetatable(d) == Dog, pcall(class, 42))
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines[0], "net\ttrue\tfunction");
    assert_eq!(lines[1], "json\t[1,2]\t5");
    assert_eq!(lines[2], "class global\ttrue");
    assert_eq!(
        lines[3],
        "cat makes a sound\trex barks\t0\tAnimal(rex)\tclass Dog"
    );
    assert!(
        lines[4].starts_with("true\tfalse\t") && lines[4].contains("class name expected"),
        "{lines:?}"
    );
}

#[test]
fn write_file_failure_returns_false_and_a_message() {
    let out = run_script(
        r#"
print(_PY.write_file("no-such-dir/x.txt", "data"))
print(_PY.write_file("ok.txt", "data"), _PY.read_file("ok.txt"))
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert!(
        lines[0].starts_with("false\tcannot write no-such-dir/x.txt"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "true\tdata");
}

#[test]
fn list_extensions_prints_every_name_by_family_and_returns_them() {
    let out = run_script(
        r#"
local names = _PY.list_extensions()
local count = 0
for name in pairs(_PY) do count = count + 1 end
print("returned", #names == count, names[1] < names[2])
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines[0], "Available Lua Extensions:");
    for needle in [
        "CORE:",
        "  setTimeout",
        "SOCKETS:",
        "  tcp_read_sync",
        "COMPAT:",
        "  get_python_version",
        "MODULES (require):",
    ] {
        assert!(lines.contains(&needle), "{needle} missing in {lines:?}");
    }
    assert_eq!(lines.last(), Some(&"returned\ttrue\ttrue"));
}
