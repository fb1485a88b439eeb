//! Bad input to the API server of `plua --fibaro`: 1,000 seeded random requests to `/api/*`
//! and `/` (wrong methods, broken, deep and huge JSON, huge ids, `../` in static paths, bad
//! UTF-8 in paths and bodies). Each gets an answer: 2xx, or 4xx with a message; a 5xx only as
//! the JSON error of a failing Lua route (500) or of a route the offline hub does not emulate
//! (501). The QA keeps running and answering afterwards.

mod support;

use std::time::Duration;

use support::{Running, TempDir, plua, python};

const QA: &str = r#"--%%name:Target
--%%u:{label='status',text='idle'}
--%%u:{button='b1',text='Press',onReleased='press'}
function QuickApp:onInit() self:debug("onInit") end
function QuickApp:press() self:debug("pressed") end
"#;

/// Sends the requests over raw sockets (one connection each) and prints one line per answer
/// that breaks the rules, then `summary <n> <by status>`.
const FUZZ: &str = r#"
import json, random, socket, sys
port = int(sys.argv[1])
rng = random.Random(1234)
methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "FOO"]
paths = ["/api/devices", "/api/devices/5555", "/api/devices/{id}", "/api/devices/{id}/action/turnOn",
         "/api/devices/5555/action/{word}", "/api/callAction?deviceID={id}&name={word}&arg1={word}",
         "/api/plugins/callUIEvent", "/api/plugins/updateView", "/api/plugins/updateProperty",
         "/api/globalVariables", "/api/globalVariables/{word}", "/api/refreshStates?last={id}",
         "/api/quickapps", "/api/quickapps/{id}", "/api/execute", "/api/proxy?url={word}",
         "/api/plugins/{id}/variables", "/api/rooms/{id}", "/api/{word}/{word}", "/", "/app.js",
         "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/fibaro/web/../init.lua", "/{word}",
         "/api/devices/5555/properties/{word}", "/health", "/api/status"]
def word():
    return rng.choice(["x", "turnOn", "..", "%00", "%ff%fe", "a" * 300, "\u00e9t\u00e9", "{}", "%2F..%2F", "null", "-1"])
def ident():
    return rng.choice(["0", "-5", "5555", "99999999999999999999999", "1e308", "nan", "0x10", "12abc", ""])
def body():
    kind = rng.randrange(9)
    if kind == 0: return b""
    if kind == 1: return b"{broken"
    if kind == 2: return b"[" * 5000
    if kind == 3: return json.dumps({"args": [rng.random() for _ in range(3)]}).encode()
    if kind == 4: return b'{"deviceID": 5555, "elementName": "b1", "eventType": "onReleased", "values": []}'
    if kind == 5: return b"\xff\xfe\xfd not utf8"
    if kind == 6: return json.dumps({"name": "v" * 1000, "value": "x" * 200000}).encode()
    if kind == 7: return b'"just a string"'
    return json.dumps({"code": "return 1"}).encode()
def exchange(raw):
    s = socket.create_connection(("127.0.0.1", port), timeout=40)
    s.sendall(raw)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk: break
        data += chunk
    s.close()
    return data
counts = {}
bad = 0
for n in range(1000):
    method = rng.choice(methods)
    path = rng.choice(paths).replace("{id}", ident(), 1).replace("{word}", word(), 1).replace("{id}", ident()).replace("{word}", word())
    if method == "DELETE" and "5555" in path:
        method = "GET"  # deleting the QA's own device is a valid request; keep the target
    if "refreshStates" in path:
        path = "/api/refreshStates?last=0"
    raw_path = path.encode("utf-8", "surrogateescape")
    if rng.randrange(20) == 0:
        raw_path += b"\xc3\x28"
    b = body() if method not in ("GET", "HEAD") or rng.randrange(4) == 0 else b""
    head = b"%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (method.encode(), raw_path, len(b))
    data = exchange(head + b)
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    counts[status] = counts.get(status, 0) + 1
    payload = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
    ok = True
    if status == 0:
        ok = False
    elif 400 <= status < 500 and method != "HEAD" and not payload.strip():
        ok = False
    elif method == "HEAD":
        ok = status < 500 or status in (500, 501)
    elif status >= 500:
        try:
            reason = json.loads(payload)["reason"]
        except Exception:
            reason = None
        ok = (status == 501 and reason is not None) or (status == 500 and reason is not None and ".lua:" in reason)
        if status == 500:
            print("note 500", method, path[:60], str(reason)[:160], flush=True)
    if not ok:
        bad += 1
        print("bad", n, method, path[:80], line, payload[:200], flush=True)
print("summary", bad, sorted(counts.items()), flush=True)
"#;

#[test]
fn a_thousand_random_bad_requests_get_clear_answers_and_the_quickapp_keeps_running() {
    let dir = TempDir::new();
    dir.write("qa.lua", QA);
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["--fibaro", "-o", "--port", "0", "qa.lua"]);
    let mut hub = Running::start(cmd, false);
    let port: u16 = hub
        .line_after("API server on http://127.0.0.1:")
        .trim()
        .parse()
        .expect("port");
    hub.wait_for_stdout("onInit");
    let mut fuzz = python(FUZZ, &[&port.to_string()]);
    let summary = fuzz.line_after("summary ");
    let out = fuzz.finish(Duration::from_secs(30));
    assert!(
        summary.starts_with("0 "),
        "requests broke the rules: {summary}\n{}",
        out.stdout
    );
    // The QA still answers and still runs its handlers.
    let device = support::curl(&["-s", &format!("http://127.0.0.1:{port}/api/devices/5555")]);
    // (Random PUTs may have renamed it: that is a valid request.)
    assert!(
        device.stdout.contains("\"id\":5555"),
        "{}",
        &device.stdout[..device.stdout.len().min(300)]
    );
    let press = support::curl(&[
        "-s",
        "-X",
        "POST",
        "--data",
        r#"{"deviceID":5555,"elementName":"b1","eventType":"onReleased","values":[]}"#,
        &format!("http://127.0.0.1:{port}/api/plugins/callUIEvent"),
    ]);
    press.assert_code(0);
    hub.wait_for_stdout("]: pressed");
    assert!(hub.is_running());
    let log = hub.kill_and_collect();
    assert!(!log.stderr.contains("panicked"), "{}", log.stderr);
}
