//! The embedded HC3 API server of `plua --fibaro`: every endpoint family over real HTTP (curl
//! and raw sockets), bodies and arrays, status codes, bad JSON, unknown routes, the
//! refreshStates long-poll, `/ws/quickapps` pushes, Basic auth, the port options and the
//! process lifetime rules.

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use support::{Running, TempDir, curl, parse_curl_i, plua, python_server, python_ws, run};

/// A QA with a label, a button, a slider and an action that updates a property.
const QA: &str = r#"--%%name:Api Test
--%%type:com.fibaro.multilevelSwitch
--%%u:{label='status',text='idle'}
--%%u:{{button='b1',text='Press',onReleased='press'},{slider='level',onChanged='level',min=0,max=99}}
function QuickApp:onInit() self:debug("onInit") end
function QuickApp:press() self:debug("pressed") self:updateView("status", "text", "pressed") end
function QuickApp:level(ev) self:debug("level " .. tostring(ev.values[1])) end
function QuickApp:turnOn() self:debug("turnOn") self:updateProperty("value", 99) end
function QuickApp:setValue(v, extra) self:debug("setValue " .. tostring(v) .. " " .. tostring(extra)) self:updateProperty("value", tonumber(v)) end
function QuickApp:boom() error("kaboom") end
"#;

/// A running `plua --fibaro -o --port 0 qa.lua` and the port it printed.
struct Hub {
    plua: Running,
    port: u16,
    _dir: TempDir,
}

impl Hub {
    fn start(qa: &str, opts: &[&str]) -> Hub {
        Hub::start_on("127.0.0.1", qa, opts)
    }

    fn start_on(host: &str, qa: &str, opts: &[&str]) -> Hub {
        let dir = TempDir::new();
        dir.write("qa.lua", qa);
        let mut cmd = plua();
        cmd.current_dir(dir.path())
            .args(["--fibaro", "-o", "--port", "0"])
            .args(opts)
            .arg("qa.lua");
        let mut plua = Running::start(cmd, false);
        let port = api_port(&mut plua, host);
        plua.wait_for_stdout("onInit");
        Hub {
            plua,
            port,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `curl -i` with `args` before the URL; the parsed response.
    fn request(&self, args: &[&str], path: &str) -> support::HttpResponse {
        let url = self.url(path);
        let mut all = vec!["-s", "-i"];
        all.extend_from_slice(args);
        all.push(&url);
        let out = curl(&all);
        parse_curl_i(out.stdout.as_bytes())
    }

    fn get(&self, path: &str) -> support::HttpResponse {
        self.request(&[], path)
    }

    fn send(&self, method: &str, path: &str, body: &str) -> support::HttpResponse {
        self.request(
            &[
                "-X",
                method,
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                body,
            ],
            path,
        )
    }
}

/// Reads the port from the `API server on http://HOST:PORT` line.
fn api_port(plua: &mut Running, host: &str) -> u16 {
    let rest = plua.line_after(&format!("API server on http://{host}:"));
    rest.trim().parse().expect("a port number")
}

fn json(response: &support::HttpResponse) -> serde_json::Value {
    serde_json::from_slice(&response.body).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {} {:?}",
            response.status,
            response.body_text()
        )
    })
}

#[test]
fn device_routes_answer_json_with_real_arrays_and_the_content_type() {
    let hub = Hub::start(QA, &[]);
    let one = hub.get("/api/devices/5555");
    assert_eq!(one.status, 200);
    assert_eq!(one.header("content-type"), Some("application/json"));
    let device = json(&one);
    assert_eq!(device["id"], 5555);
    assert_eq!(device["name"], "Api Test");
    assert!(device["interfaces"].is_array(), "{device}");
    let all = json(&hub.get("/api/devices"));
    assert!(
        all.as_array()
            .is_some_and(|a| a.iter().any(|d| d["id"] == 5555))
    );
    let none = json(&hub.get("/api/devices?parentId=5555"));
    assert_eq!(none, serde_json::json!([]), "an empty list is an array");
    let missing = hub.get("/api/devices/999999999999999");
    assert_eq!(missing.status, 404);
    assert_eq!(json(&missing)["type"], "ERROR");
}

#[test]
fn actions_by_post_get_and_call_action_reach_the_quickapp() {
    let mut hub = Hub::start(QA, &[]);
    let post = hub.send("POST", "/api/devices/5555/action/turnOn", r#"{"args":[]}"#);
    assert!(post.status < 300, "{post:?}");
    hub.plua.wait_for_stdout("turnOn");
    let value = json(&hub.get("/api/devices/5555/properties/value"));
    assert_eq!(value["value"], 99, "{value}");
    let get = hub.get("/api/devices/5555/action/setValue?arg1=42&arg2=x");
    assert!(get.status < 300, "{get:?}");
    hub.plua.wait_for_stdout("setValue 42 x");
    let call = hub.get("/api/callAction?deviceID=5555&name=setValue&arg1=7");
    assert!(call.status < 300, "{call:?}");
    hub.plua.wait_for_stdout("setValue 7 nil");
}

#[test]
fn a_device_read_again_after_a_change_shows_the_change() {
    let mut hub = Hub::start(QA, &[]);
    let before = json(&hub.get("/api/devices/5555"));
    assert_eq!(before["properties"]["value"], 0, "{before}");
    assert_eq!(
        json(&hub.get("/api/devices/5555")),
        before,
        "same answer twice"
    );
    // Changed by the QA's own handler (its updateProperty is an in-process api call) ...
    hub.send("POST", "/api/devices/5555/action/turnOn", r#"{"args":[]}"#);
    hub.plua.wait_for_stdout("turnOn");
    let mut after = json(&hub.get("/api/devices/5555"));
    for _ in 0..50 {
        if after["properties"]["value"] == 99 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        after = json(&hub.get("/api/devices/5555"));
    }
    assert_eq!(after["properties"]["value"], 99, "{after}");
    // ... and by a PUT through the server.
    let put = hub.send("PUT", "/api/devices/5555", r#"{"name":"Renamed"}"#);
    assert!(put.status < 300, "{put:?}");
    assert_eq!(json(&hub.get("/api/devices/5555"))["name"], "Renamed");
}

#[test]
fn put_post_and_delete_bodies_work_on_global_variables() {
    let hub = Hub::start(QA, &[]);
    let created = hub.send(
        "POST",
        "/api/globalVariables",
        r#"{"name":"Mode","value":"day"}"#,
    );
    assert!(
        created.status == 200 || created.status == 201,
        "{created:?}"
    );
    let put = hub.send("PUT", "/api/globalVariables/Mode", r#"{"value":"night"}"#);
    assert_eq!(put.status, 200, "{put:?}");
    assert_eq!(
        json(&hub.get("/api/globalVariables/Mode"))["value"],
        "night"
    );
    let list = json(&hub.get("/api/globalVariables"));
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|v| v["name"] == "Mode"))
    );
    let deleted = hub.request(&["-X", "DELETE"], "/api/globalVariables/Mode");
    assert!(deleted.status < 300, "{deleted:?}");
    assert_eq!(hub.get("/api/globalVariables/Mode").status, 404);
}

#[test]
fn bad_json_is_400_and_unknown_routes_are_json_errors() {
    let mut hub = Hub::start(QA, &[]);
    let bad = hub.send("POST", "/api/devices/5555/action/turnOn", "{not json");
    assert_eq!(bad.status, 400);
    assert!(
        json(&bad)["reason"]
            .as_str()
            .is_some_and(|r| r.contains("bad JSON")),
        "{}",
        bad.body_text()
    );
    let page = hub.get("/no/such/page");
    assert_eq!(page.status, 404);
    assert_eq!(json(&page)["type"], "ERROR");
    let route = hub.get("/api/no/such/route");
    assert!(route.status == 404 || route.status == 501, "{route:?}");
    assert_eq!(json(&route)["type"], "ERROR");
    let method = hub.request(&["-X", "DELETE"], "/health");
    assert_eq!(method.status, 405);
    // A failing action handler is logged; the server goes on answering.
    hub.send("POST", "/api/devices/5555/action/boom", r#"{"args":[]}"#);
    hub.plua.wait_for_stdout("kaboom");
    assert_eq!(hub.get("/health").status, 200);
}

#[test]
fn a_lua_error_in_a_route_is_a_500_with_its_message_and_serving_goes_on() {
    let qa = "function QuickApp:onInit() require('fibaro.router').add('GET', '/boom', function() error('route exploded') end) self:debug('onInit') end\n";
    let hub = Hub::start(qa, &[]);
    for _ in 0..3 {
        let boom = hub.get("/api/boom");
        assert_eq!(boom.status, 500, "{boom:?}");
        assert_eq!(boom.header("content-type"), Some("application/json"));
        let body = json(&boom);
        assert_eq!(body["type"], "ERROR", "{body}");
        let reason = body["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("route exploded"), "{body}");
        assert_eq!(hub.get("/api/devices/5555").status, 200, "still serving");
    }
}

#[test]
fn ui_events_run_the_handler_and_quickapps_lists_the_ui() {
    let mut hub = Hub::start(QA, &[]);
    let list = json(&hub.get("/api/quickapps"));
    let qa = &list[0];
    assert_eq!(qa["id"], 5555);
    assert_eq!(qa["ui"]["rows"][0][0]["type"], "label");
    assert_eq!(qa["ui"]["state"]["status"]["text"], "idle");
    let event = hub.send(
        "POST",
        "/api/plugins/callUIEvent",
        r#"{"deviceID":5555,"elementName":"b1","eventType":"onReleased","values":[]}"#,
    );
    assert!(event.status < 300, "{event:?}");
    hub.plua.wait_for_stdout("pressed");
    let one = json(&hub.get("/api/quickapps/5555"));
    assert_eq!(one["ui"]["state"]["status"]["text"], "pressed");
    assert_eq!(hub.get("/api/quickapps/1234").status, 404);
}

#[test]
fn health_status_and_the_web_ui_files() {
    let hub = Hub::start(QA, &[]);
    assert_eq!(json(&hub.get("/health"))["status"], "ok");
    let status = json(&hub.get("/api/status"));
    assert_eq!(status["quickapps"], 1);
    assert_eq!(status["port"], hub.port);
    let page = hub.get("/");
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    assert!(page.body_text().contains("/app.js"));
    let js = hub.get("/app.js");
    assert!(
        js.header("content-type")
            .is_some_and(|t| t.contains("javascript"))
    );
    assert!(js.body_text().contains("/ws/quickapps"));
    assert!(hub.get("/style.css").body_text().contains(".card"));
    assert_eq!(hub.get("/../Cargo.toml").status, 404);
    assert_eq!(hub.get("/%2e%2e/etc/passwd").status, 404);
}

#[test]
fn execute_runs_code_and_reports_errors() {
    let hub = Hub::start(QA, &[]);
    let ok = json(&hub.send(
        "POST",
        "/api/execute",
        r#"{"code":"print('hi', 2) return 40 + 2"}"#,
    ));
    assert_eq!(ok["success"], true, "{ok}");
    assert_eq!(ok["result"], 42);
    assert_eq!(ok["output"], "hi\t2");
    let failed = json(&hub.send("POST", "/api/execute", r#"{"code":"error('nope')"}"#));
    assert_eq!(failed["success"], false);
    assert!(failed["error"].as_str().is_some_and(|e| e.contains("nope")));
    let syntax = json(&hub.send("POST", "/api/execute", r#"{"code":"if then"}"#));
    assert_eq!(syntax["success"], false);
    assert_eq!(hub.send("POST", "/api/execute", "{}").status, 400);
}

#[test]
fn refresh_states_answers_at_once_with_newer_events_and_waits_for_the_next_one() {
    let hub = Hub::start(QA, &[]);
    let first = json(&hub.get("/api/refreshStates?last=0"));
    let last = first["last"].as_i64().expect("last");
    assert!(last >= 1, "{first}");
    assert!(first["events"].as_array().is_some_and(|e| !e.is_empty()));
    // A long poll from `last` waits; an action 300 ms later ends it early.
    let port = hub.port;
    let poll = std::thread::spawn(move || {
        let start = Instant::now();
        let out = curl(&[
            "-s",
            &format!("http://127.0.0.1:{port}/api/refreshStates?last={last}"),
        ]);
        (start.elapsed(), out.stdout)
    });
    std::thread::sleep(Duration::from_millis(300));
    // The server is not blocked by the waiting request.
    assert_eq!(hub.get("/health").status, 200);
    hub.send("POST", "/api/devices/5555/action/turnOn", r#"{"args":[]}"#);
    let (took, body) = poll.join().expect("poll thread");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(answer["last"].as_i64().unwrap_or(0) > last, "{answer}");
    assert!(
        answer["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["type"] == "DevicePropertyUpdatedEvent")),
        "{answer}"
    );
    assert!(
        took >= Duration::from_millis(250),
        "answered before the event: {took:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "did not return early: {took:?}"
    );
}

#[test]
fn websocket_pushes_ui_updates_on_update_view_and_update_property() {
    let hub = Hub::start(QA, &[]);
    let port = hub.port.to_string();
    let mut client = python_ws(
        r#"
import asyncio, json, sys, urllib.request
import websockets
async def main():
    async with websockets.connect(f"ws://127.0.0.1:{sys.argv[1]}/ws/quickapps") as ws:
        hello = json.loads(await ws.recv())
        print("hello", hello["type"], flush=True)
        body = json.dumps({"deviceID": 5555, "elementName": "b1", "eventType": "onReleased", "values": []}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/api/plugins/callUIEvent", data=body, method="POST")
        await asyncio.get_running_loop().run_in_executor(None, urllib.request.urlopen, req)
        req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/api/devices/5555/action/turnOn", data=b'{"args":[]}', method="POST")
        await asyncio.get_running_loop().run_in_executor(None, urllib.request.urlopen, req)
        seen = set()
        while len(seen) < 2:
            m = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if m.get("type") == "ui_update":
                if m["kind"] == "view":
                    print("view", m["deviceID"], m["elementName"], m["propertyName"], m["newValue"], flush=True)
                else:
                    print("property", m["deviceID"], m["propertyName"], m["newValue"], flush=True)
                seen.add(m["kind"])
asyncio.run(main())
"#,
        &[&port],
    );
    client.wait_for_stdout("view 5555 status text pressed");
    client.wait_for_stdout("property 5555 value 99");
    let out = client.finish(Duration::from_secs(20));
    out.assert_code(0);
}

#[test]
fn basic_auth_is_checked_when_configured() {
    let hub = Hub::start(QA, &["--api-user", "admin", "--api-password", "secret"]);
    let denied = hub.get("/api/devices/5555");
    assert_eq!(denied.status, 401);
    assert!(denied.header("www-authenticate").is_some());
    let allowed = hub.request(&["-u", "admin:secret"], "/api/devices/5555");
    assert_eq!(allowed.status, 200);
    let wrong = hub.request(&["-u", "admin:wrong"], "/api/devices/5555");
    assert_eq!(wrong.status, 401);
}

#[test]
fn a_port_in_use_is_a_clear_error_and_exit_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let dir = TempDir::new();
    dir.write("qa.lua", QA);
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["--fibaro", "-o", "--port", &port, "qa.lua"]);
    let out = run(cmd);
    out.assert_no_panic().assert_code(1);
    out.assert_stderr_contains("cannot start the API server on 127.0.0.1:");
    assert!(!out.stdout.contains("onInit"), "no QA runs: {}", out.stdout);
}

#[test]
fn a_fibaro_run_lives_on_and_plain_api_scripts_end() {
    let hub = Hub::start("function QuickApp:onInit() self:debug('onInit') end\n", &[]);
    let mut qa = hub.plua;
    std::thread::sleep(Duration::from_millis(500));
    assert!(qa.is_running(), "the server keeps a --fibaro run alive");
    qa.signal("INT");
    let out = qa.finish(Duration::from_secs(10));
    assert_eq!(out.code, Some(130));
    // `--api` with a plain script: the server answers while the script runs, then it ends.
    let dir = TempDir::new();
    dir.write(
        "s.lua",
        "setTimeout(function() print('done') end, 1500) print('started')\n",
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["-o", "--api", "--port", "0", "s.lua"]);
    let mut script = Running::start(cmd, false);
    let port = api_port(&mut script, "127.0.0.1");
    let health = curl(&["-s", &format!("http://127.0.0.1:{port}/health")]);
    assert!(health.stdout.contains("ok"), "{}", health.stdout);
    let out = script.finish(Duration::from_secs(10));
    out.assert_code(0);
    assert!(out.stdout.contains("done"));
}

#[test]
fn no_api_starts_no_server() {
    let dir = TempDir::new();
    dir.write(
        "qa.lua",
        "function QuickApp:onInit() self:debug('onInit') end\n",
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["--fibaro", "-o", "--no-api", "qa.lua"]);
    let out = run(cmd);
    out.assert_code(0);
    assert!(!out.stdout.contains("API server"), "{}", out.stdout);
}

#[test]
fn requests_pipelined_on_one_connection_are_all_answered() {
    let hub = Hub::start(QA, &[]);
    let mut stream = support::raw_connect(hub.port);
    let one = "GET /api/devices/5555 HTTP/1.1\r\nHost: x\r\n\r\n";
    let last = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    stream
        .write_all(format!("{one}{one}{last}").as_bytes())
        .expect("write");
    let mut all = Vec::new();
    stream.read_to_end(&mut all).expect("read");
    let text = String::from_utf8_lossy(&all);
    assert_eq!(text.matches("HTTP/1.1 200").count(), 3, "{text}");
}

#[test]
fn a_burst_of_posted_actions_runs_every_action_once_in_order() {
    let mut hub = Hub::start(QA, &[]);
    let mut stream = support::raw_connect(hub.port);
    let count = 400;
    let mut requests = String::new();
    for n in 1..=count {
        let body = format!(r#"{{"args":[{n}]}}"#);
        let close = if n == count {
            "Connection: close\r\n"
        } else {
            ""
        };
        requests.push_str(&format!(
            "POST /api/devices/5555/action/setValue HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{close}Content-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    }
    stream.write_all(requests.as_bytes()).expect("write");
    let mut all = Vec::new();
    stream.read_to_end(&mut all).expect("read");
    let text = String::from_utf8_lossy(&all);
    assert_eq!(text.matches("HTTP/1.1 202").count(), count, "{text}");
    hub.plua.wait_for_stdout(&format!("setValue {count} nil"));
    let stdout = hub.plua.stdout_text();
    let ran: Vec<usize> = stdout
        .lines()
        .filter_map(|line| {
            line.split_once("]: setValue ")?
                .1
                .strip_suffix(" nil")?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(
        ran,
        (1..=count).collect::<Vec<_>>(),
        "each action once, in order"
    );
}

#[test]
fn proxy_fetches_loopback_urls_and_refuses_other_hosts() {
    let (_peer, peer_port) = python_server(
        r#"
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("proxied " + self.path).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#,
        &[],
    );
    let hub = Hub::start(QA, &[]);
    let target = format!("http://127.0.0.1:{peer_port}/hello");
    let ok = hub.request(
        &["-G", "--data-urlencode", &format!("url={target}")],
        "/api/proxy",
    );
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.body_text(), "proxied /hello");
    assert_eq!(ok.header("content-type"), Some("text/plain"));
    let refused = hub.request(
        &["-G", "--data-urlencode", "url=http://example.com/"],
        "/api/proxy",
    );
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(
        json(&refused)["reason"]
            .as_str()
            .is_some_and(|r| r.contains("example.com"))
    );
    assert_eq!(hub.get("/api/proxy").status, 400);
}

#[test]
fn a_non_loopback_address_without_auth_warns_and_turns_execute_off() {
    let mut hub = Hub::start_on("0.0.0.0", QA, &["--host", "0.0.0.0"]);
    hub.plua.wait_for_output("without authentication");
    let execute = hub.send("POST", "/api/execute", r#"{"code":"return 1"}"#);
    assert_eq!(execute.status, 403, "{execute:?}");
    // The rest of the API still answers.
    assert_eq!(hub.get("/api/devices/5555").status, 200);
}
