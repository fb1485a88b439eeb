//! Native Lua 5.4 C modules: the binary exports the Lua C API, and `require` finds Debian's
//! packaged modules (`lua-lpeg`, `lua-cjson`, `lua-socket`, installed by .ci/run) on the
//! default `package.cpath`, as the `lua5.4` program does. plua's embedded `socket` keeps
//! winning over Debian's LuaSocket unless a script asks for the native one (README, "Native C
//! modules").

mod support;

use std::path::Path;

use support::{TempDir, plua, python_server, run, run_script};

/// Debian's folder for native Lua 5.4 modules on this machine.
const DEBIAN_CMODULES: &str = "/usr/lib/x86_64-linux-gnu/lua/5.4";

/// Fails with the install hint when a Debian package the test needs is missing.
fn need(module: &str, package: &str) {
    let path = format!("{DEBIAN_CMODULES}/{module}.so");
    assert!(
        Path::new(&path).exists(),
        "{path} is missing: apt-get install {package} (.ci/run does)"
    );
}

/// A Python HTTP server on 127.0.0.1 that answers every GET with `hello from python`.
const PY_HELLO_HTTP: &str = r#"
import http.server
class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from python"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

#[cfg(target_arch = "x86_64")]
#[test]
fn the_default_search_paths_are_debians_lua54_ones() {
    let out = run_script("print(package.cpath)\nprint(package.path)\n", &[]);
    out.assert_code(0);
    out.assert_lines(&[
        "/usr/local/lib/lua/5.4/?.so;/usr/lib/x86_64-linux-gnu/lua/5.4/?.so;\
         /usr/lib/lua/5.4/?.so;/usr/local/lib/lua/5.4/loadall.so;./?.so",
        "/usr/local/share/lua/5.4/?.lua;/usr/local/share/lua/5.4/?/init.lua;\
         /usr/local/lib/lua/5.4/?.lua;/usr/local/lib/lua/5.4/?/init.lua;\
         /usr/share/lua/5.4/?.lua;/usr/share/lua/5.4/?/init.lua;./?.lua;./?/init.lua",
    ]);
}

#[test]
fn lua_cpath_in_the_environment_wins_and_double_semicolon_means_the_defaults() {
    let dir = TempDir::new();
    dir.write("script.lua", "print(package.cpath)\nprint(package.path)\n");
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .env("LUA_CPATH_5_4", "/opt/mine/?.so;;")
        .env("LUA_PATH", "/opt/only/?.lua")
        .arg("script.lua");
    let out = run(cmd);
    out.assert_code(0);
    let lines = out.lines();
    assert!(
        lines[0].starts_with("/opt/mine/?.so;/usr/local/lib/lua/5.4/?.so;/usr/lib/"),
        "{}",
        out.stdout
    );
    assert!(lines[0].ends_with("/lua/5.4/?.so;/usr/local/lib/lua/5.4/loadall.so;./?.so"));
    assert_eq!(lines[1], "/opt/only/?.lua");
}

#[test]
fn lpeg_and_its_re_module_load_and_match() {
    need("lpeg", "lua-lpeg");
    let out = run_script(
        "local lpeg = require('lpeg')\n\
         local word = lpeg.C(lpeg.R('az') ^ 1)\n\
         local list = lpeg.Ct(word * (',' * word) ^ 0)\n\
         print(table.concat(list:match('red,green,blue'), ' '))\n\
         print(type(lpeg.version) == 'function' and lpeg.version() or lpeg.version)\n\
         local re = require('re')\n\
         print(re.match('key = value', \"{%w+} ' = ' {%w+}\"))\n\
         print(pcall(lpeg.P, {}))\n",
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines[0], "red green blue", "{}", out.stderr);
    assert!(lines[1].starts_with('1'), "lpeg version: {}", lines[1]);
    assert_eq!(lines[2], "key\tvalue");
    // A bad grammar is a Lua error raised by the C module, caught by pcall.
    assert!(lines[3].starts_with("false\t"), "{}", lines[3]);
}

#[test]
fn cjson_round_trips_and_rejects_bad_json_with_a_lua_error() {
    need("cjson", "lua-cjson");
    let out = run_script(
        "local cjson = require('cjson')\n\
         local text = cjson.encode({ name = 'plua', list = { 1, 2.5, true } })\n\
         local back = cjson.decode(text)\n\
         print(back.name, back.list[1] == 1, back.list[2], back.list[3], #back.list)\n\
         print(cjson.decode('[null]')[1] == cjson.null)\n\
         local ok, err = pcall(cjson.decode, '{\"a\":')\n\
         print(ok, type(err))\n\
         -- the C module and plua's own json agree on the document\n\
         print(_PY.parse_json(text).name)\n",
        &[],
    );
    out.assert_code(0).assert_no_panic();
    out.assert_lines(&["plua\ttrue\t2.5\ttrue\t3", "true", "false\tstring", "plua"]);
}

#[test]
fn plain_require_socket_gives_the_embedded_luasocket() {
    need("socket/core", "lua-socket");
    let out = run_script(
        "local core, from = require('socket.core')\n\
         print(from)\n\
         local socket = require('socket')\n\
         print(socket == core, type(socket.try), socket._VERSION)\n",
        &[],
    );
    out.assert_code(0);
    out.assert_lines(&[":preload:", "true\tfunction\tLuaSocket 3.0.0"]);
}

#[test]
fn debians_socket_core_works_from_the_main_chunk_and_in_a_timer_callback() {
    need("socket/core", "lua-socket");
    let (_server, port) = python_server(PY_HELLO_HTTP, &[]);
    let script = format!(
        "package.preload['socket.core'] = nil -- opt out of plua's embedded socket\n\
         local core, from = require('socket.core')\n\
         print(from)\n\
         local function get(where)\n\
           local tcp = assert(core.tcp())\n\
           tcp:settimeout(5)\n\
           assert(tcp:connect('127.0.0.1', {port}))\n\
           assert(tcp:send('GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n'))\n\
           local status = assert(tcp:receive('*l'))\n\
           local body = assert(tcp:receive('*a'))\n\
           tcp:close()\n\
           print(where, status, body:match('hello from python'))\n\
         end\n\
         get('main')\n\
         setTimeout(function()\n\
           print('in a coroutine:', coroutine.isyieldable())\n\
           get('timer')\n\
           local t0 = core.gettime()\n\
           core.sleep(0.05)\n\
           print('slept', core.gettime() - t0 >= 0.04)\n\
         end, 10)\n"
    );
    let out = run_script(&script, &[]);
    out.assert_code(0).assert_no_panic();
    out.assert_lines(&[
        &format!("{DEBIAN_CMODULES}/socket/core.so"),
        "main\tHTTP/1.0 200 OK\thello from python",
        "in a coroutine:\ttrue",
        "timer\tHTTP/1.0 200 OK\thello from python",
        "slept\ttrue",
    ]);
}

#[test]
fn debians_whole_luasocket_stack_with_socket_http() {
    need("socket/core", "lua-socket");
    need("mime/core", "lua-socket");
    let (_server, port) = python_server(PY_HELLO_HTTP, &[]);
    let script = format!(
        "package.preload['socket.core'] = nil\n\
         package.loaded.socket = dofile(package.searchpath('socket', package.path))\n\
         local http = require('socket.http')\n\
         local body, code = http.request('http://127.0.0.1:{port}/')\n\
         print(code, body)\n\
         print((require('mime').b64('plua')))\n"
    );
    let out = run_script(&script, &[]);
    out.assert_code(0).assert_no_panic();
    out.assert_lines(&["200\thello from python", "cGx1YQ=="]);
}

#[test]
fn a_file_that_is_not_a_lua_module_fails_with_a_clear_error() {
    need("lpeg", "lua-lpeg");
    let dir = TempDir::new();
    dir.write("broken.so", "this is not a shared object\n");
    dir.write(
        "script.lua",
        "package.cpath = './?.so'\n\
         local ok, err = pcall(require, 'broken')\n\
         print(ok, err:match(\"error loading module 'broken'\") ~= nil)\n\
         print(package.loadlib('/usr/lib/x86_64-linux-gnu/lua/5.4/lpeg.so', 'luaopen_nothing'))\n\
         print('still running')\n",
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path()).arg("script.lua");
    let out = run(cmd);
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines[0], "false\ttrue", "{}", out.stdout);
    assert!(lines[1].starts_with("nil\t"), "{}", lines[1]);
    assert!(lines[1].ends_with("\tinit"), "{}", lines[1]);
    assert_eq!(lines[2], "still running");
}
