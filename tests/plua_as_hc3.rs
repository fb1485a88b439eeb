//! plua as the HC3 of another plua: an offline `plua --fibaro -o` A with Basic auth on its API
//! server, and an online `plua --fibaro` B whose `HC3_URL` points at A. B's `api.get`, its
//! `fibaro.call` to a device only A has, and a REST call to B's own API server all reach A;
//! A checks the Basic auth header B sends.

mod support;

use std::time::Duration;

use support::{Running, TempDir, curl, plua};

const HUB_QA: &str = r#"--%%name:Hub Side
--%%id:7000
function QuickApp:onInit()
  api.post("/globalVariables", { name = "FromA", value = "hello" })
  self:debug("onInit")
end
function QuickApp:ping(who) self:debug("ping from " .. tostring(who)) end
"#;

const CLIENT_QA: &str = r#"--%%name:Client Side
function QuickApp:onInit()
  local vars, status = api.get("/globalVariables")
  local found = "none"
  for _, v in ipairs(type(vars) == "table" and vars or {}) do
    if v.name == "FromA" then found = v.value end
  end
  self:debug("globals " .. tostring(status) .. " " .. tostring(found))
  local _, call_status = fibaro.call(7000, "ping", "B")
  self:debug("call " .. tostring(call_status))
end
"#;

/// Starts a `plua --fibaro --port 0 <opts> qa.lua` and returns it with its API port.
fn start(qa: &str, opts: &[&str], env: &[(&str, String)]) -> (Running, u16, TempDir) {
    let dir = TempDir::new();
    dir.write("qa.lua", qa);
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["--fibaro", "--port", "0"])
        .args(opts)
        .arg("qa.lua")
        .env_remove("HC3_URL")
        .env_remove("HC3_USER")
        .env_remove("HC3_PASSWORD");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let mut running = Running::start(cmd, false);
    let port = running
        .line_after("API server on http://127.0.0.1:")
        .trim()
        .parse()
        .expect("port");
    (running, port, dir)
}

fn hub_env(port: u16, password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("HC3_URL", format!("http://127.0.0.1:{port}")),
        ("HC3_USER", "admin".to_owned()),
        ("HC3_PASSWORD", password.to_owned()),
    ]
}

#[test]
fn an_online_plua_reaches_an_offline_plua_through_its_api_server_with_basic_auth() {
    let auth = ["-o", "--api-user", "admin", "--api-password", "secret"];
    let (mut a, a_port, _a_dir) = start(HUB_QA, &auth, &[]);
    a.wait_for_stdout("onInit");
    let (mut b, b_port, _b_dir) = start(CLIENT_QA, &[], &hub_env(a_port, "secret"));
    b.wait_for_stdout("globals 200 hello");
    a.wait_for_stdout("ping from B");
    b.wait_for_stdout("call 202");
    // A REST call to B's API server that B does not emulate is forwarded to A.
    let out = curl(&[
        "-s",
        &format!("http://127.0.0.1:{b_port}/api/globalVariables/FromA"),
    ]);
    assert!(out.stdout.contains("\"hello\""), "{}", out.stdout);
    // B's own device is answered by B.
    let own = curl(&["-s", &format!("http://127.0.0.1:{b_port}/api/devices/5555")]);
    assert!(own.stdout.contains("Client Side"), "{}", own.stdout);
    b.kill_and_collect();
    a.kill_and_collect();
}

#[test]
fn the_offline_plua_refuses_a_wrong_password() {
    let auth = ["-o", "--api-user", "admin", "--api-password", "secret"];
    let (mut a, a_port, _a_dir) = start(HUB_QA, &auth, &[]);
    a.wait_for_stdout("onInit");
    let (mut b, _, _b_dir) = start(CLIENT_QA, &[], &hub_env(a_port, "wrong"));
    b.wait_for_stdout("globals 401 none");
    b.wait_for_stdout("call 401");
    std::thread::sleep(Duration::from_millis(200));
    let a_out = a.kill_and_collect();
    assert!(!a_out.stdout.contains("ping from"), "{}", a_out.stdout);
    b.kill_and_collect();
}
