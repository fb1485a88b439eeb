//! `plua -t TOOL`: `pack` writes a valid export, `unpack` writes files whose headers recreate
//! the QA (the round trip keeps files, headers, variables and UI), and the HC3 tools talk to a
//! hub with Basic auth or fail clearly without one.

mod support;

use support::{TempDir, plua, python_server, run};

const QA: &str = "--%%name:Round Trip\n\
--%%type:com.fibaro.multilevelSwitch\n\
--%%var:count=3\n\
--%%var:cfg={mode='auto', list={1,2}}\n\
--%%interfaces:{'battery'}\n\
--%%file:lib.lua,lib\n\
--%%u:{label='status',text='idle'}\n\
--%%u:{{button='up',text='Up',onReleased='up'},{slider='level',onChanged='level',min=0,max=99}}\n\
function QuickApp:onInit()\n\
  local cbs = {}\n\
  for _, cb in ipairs(self.properties.uiCallbacks) do cbs[#cbs + 1] = cb.name .. '=' .. cb.callback end\n\
  table.sort(cbs)\n\
  print(self.name, self.type, self:getVariable('count'), self:getVariable('cfg').mode, #self:getVariable('cfg').list, lib(), self:hasInterface('battery'), table.concat(cbs, ','))\n\
end\n";

fn fibaro_output(dir: &TempDir, file: &str) -> String {
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["--fibaro", "--no-api", "-o", file]);
    let out = run(cmd);
    out.assert_no_panic().assert_code(0);
    out.stdout
        .lines()
        .filter_map(|line| line.split_once("]: ").map(|(_, m)| m.to_owned()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn pack_then_unpack_round_trip_keeps_files_headers_variables_and_ui() {
    let dir = TempDir::new();
    dir.write("qa.lua", QA);
    dir.write("lib.lua", "function lib() return 'lib ok' end\n");
    let expected = "Round Trip com.fibaro.multilevelSwitch 3 auto 2 lib ok true level=level,up=up";
    assert_eq!(fibaro_output(&dir, "qa.lua"), expected);

    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["-t", "pack", "qa.lua", "qa.fqa"]);
    run(cmd)
        .assert_code(0)
        .assert_stdout_contains("packed qa.lua -> qa.fqa");
    let export = std::fs::read_to_string(dir.path().join("qa.fqa")).expect("export written");
    assert!(
        export.contains("\"isMain\": true") && export.contains("\"uiCallbacks\""),
        "{export}"
    );
    assert_eq!(fibaro_output(&dir, "qa.fqa"), expected);

    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["-t", "unpack", "qa.fqa", "out"]);
    run(cmd).assert_code(0);
    let main = std::fs::read_to_string(dir.path().join("out/Round_Trip.lua")).expect("main file");
    assert!(
        main.starts_with("--%%name:Round Trip\n--%%type:com.fibaro.multilevelSwitch\n"),
        "{main}"
    );
    assert!(dir.path().join("out/lib.lua").exists());
    assert_eq!(fibaro_output(&dir, "out/Round_Trip.lua"), expected);
}

#[test]
fn unpack_of_a_broken_export_and_an_unknown_tool_fail_with_exit_1() {
    let dir = TempDir::new();
    dir.write("bad.fqa", "{ not json");
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["-t", "unpack", "bad.fqa"]);
    run(cmd)
        .assert_no_panic()
        .assert_code(1)
        .assert_stderr_contains("bad.fqa: not valid JSON");
    let mut cmd = plua();
    cmd.args(["-t", "frobnicate"]);
    run(cmd)
        .assert_code(1)
        .assert_stderr_contains("unknown tool 'frobnicate'");
}

#[test]
fn hc3_tools_without_credentials_say_so_and_upload_qa_posts_the_export_with_basic_auth() {
    let dir = TempDir::new();
    dir.write("qa.lua", QA);
    dir.write("lib.lua", "function lib() return 'lib ok' end\n");
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .env_remove("HC3_URL")
        .args(["-t", "downloadQA", "42"]);
    run(cmd)
        .assert_code(1)
        .assert_stderr_contains("no HC3 configured");

    let (_hub, port) = python_server(
        "
import http.server, json
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        ok = self.path == '/api/quickApp/' and self.headers['Authorization'] == 'Basic YWRtaW46cHc=' and body['name'] == 'Round Trip' and len(body['files']) == 2
        reply = json.dumps({'id': 777} if ok else {'reason': 'bad upload'}).encode()
        self.send_response(201 if ok else 400)
        self.send_header('Content-Length', str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
    def log_message(self, *a): pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
",
        &[],
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .env("HC3_URL", format!("http://127.0.0.1:{port}"))
        .env("HC3_USER", "admin")
        .env("HC3_PASSWORD", "pw")
        .args(["-t", "uploadQA", "qa.lua"]);
    run(cmd)
        .assert_no_panic()
        .assert_code(0)
        .assert_stdout_contains("uploaded qa.lua as device 777");
}
