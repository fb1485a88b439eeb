//! HTTP client results in the original's shape, against plua's own HTTP server in the same
//! script: header lookup in any letter case, `error`/`error_message` for 4xx/5xx, and
//! `error = false, error_message = ""` on an async success.

mod support;

use support::run_script;

const SERVER: &str = r#"
local id, port = _PY.http_server_start("127.0.0.1", 0, function(req)
  if req.path == "/missing" then return 404, "not here" end
  if req.path == "/broken" then return 500, "oops" end
  return 200, "hello", { ["Content-Type"] = "text/plain", ["X-Mixed-Case"] = "yes" }
end)
assert(id, port)
base = "http://127.0.0.1:" .. port
server_id = id
"#;

fn run_with_server(body: &str) -> support::Output {
    run_script(&format!("{SERVER}\n{body}"), &[])
}

#[test]
fn response_headers_answer_in_any_letter_case_and_pairs_gives_each_once() {
    let out = run_with_server(
        r#"
local r = _PY.http_request_sync(base .. "/")
print(r.code, r.headers["Content-Type"], r.headers["content-type"], r.headers["CONTENT-TYPE"])
print(r.headers["x-mixed-case"], r.headers["X-Mixed-Case"])
local seen = 0
for name in pairs(r.headers) do
  if name:lower() == "content-type" then seen = seen + 1 end
  assert(name == name:lower(), name)
end
print("content-type entries", seen)
_PY.http_request_async(base .. "/", function(r)
  print("async", r.headers["Content-Type"])
  _PY.http_server_stop(server_id)
end)
"#,
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "200\ttext/plain\ttext/plain\ttext/plain",
        "yes\tyes",
        "content-type entries\t1",
        "async\ttext/plain",
    ]);
}

#[test]
fn error_statuses_set_error_and_error_message_as_the_original() {
    let out = run_with_server(
        r#"
for _, path in ipairs({"/missing", "/broken", "/"}) do
  local r = _PY.http_request_sync(base .. path)
  print("sync", r.code, r.error, r.error_message, r.body)
end
_PY.http_request_async(base .. "/missing", function(r)
  print("async", r.code, r.error, r.error_message)
  _PY.http_request_async(base .. "/", function(r)
    print("async", r.code, r.error, "[" .. r.error_message .. "]", r.body)
    -- net.HTTPClient still calls success for any status, as an HC3 does.
    require("net").HTTPClient():request(base .. "/missing", {
      success = function(resp) print("success", resp.status) _PY.http_server_stop(server_id) end,
      error = function(msg) print("error", msg) _PY.http_server_stop(server_id) end,
    })
  end)
end)
"#,
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "sync\t404\ttrue\tHTTP Error 404\tnot here",
        "sync\t500\ttrue\tHTTP Error 500\toops",
        "sync\t200\tnil\tnil\thello",
        "async\t404\ttrue\tHTTP Error 404",
        "async\t200\tfalse\t[]\thello",
        "success\t404",
    ]);
}

#[test]
fn http_request_is_the_sync_request() {
    let out = run_with_server(
        r#"
local r = _PY.http_request({ url = base .. "/", method = "GET" })
print(r.code, r.body, r.headers["Content-Type"])
print(_PY.http_request(base .. "/missing").error)
_PY.http_server_stop(server_id)
"#,
    );
    out.assert_code(0)
        .assert_no_panic()
        .assert_lines(&["200\thello\ttext/plain", "true"]);
}
