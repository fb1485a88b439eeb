//! An HTTP handler that fails in any way — an error value whose `__tostring` raises, `nil`, a
//! table, or a response that cannot be sent — gets its request answered with 500 and a logged
//! message, and the server (and the same keep-alive connection) goes on serving.

mod support;

use support::{curl, http_server_script, start_http_server};

const HANDLER: &str = r#"function(req)
  local p = req.path
  if p == "/tostring-fails" then
    error(setmetatable({}, {__tostring = function() error("boom in tostring") end}))
  elseif p == "/tostring-not-string" then
    error(setmetatable({}, {__tostring = function() return {} end}))
  elseif p == "/nil" then
    error(nil)
  elseif p == "/table" then
    error({})
  elseif p == "/header-table" then
    return 200, "ok", {["X-Bad"] = {}}
  elseif p == "/header-tostring-fails" then
    return 200, "ok", {["X-Bad"] = setmetatable({}, {__tostring = function() error("boom") end})}
  end
  return 200, "fine " .. p
end"#;

const FAILING: &[&str] = &[
    "/tostring-fails",
    "/tostring-not-string",
    "/nil",
    "/table",
    "/header-table",
    "/header-tostring-fails",
];

#[test]
fn handler_errors_of_any_value_get_500_and_the_server_keeps_serving() {
    let (_dir, server, port) = start_http_server(&http_server_script(HANDLER, "nil"));
    // One curl run: the requests share a keep-alive connection, which a request left
    // unanswered would block (curl's --max-time ends the run then).
    let mut args = vec![
        "-s".to_owned(),
        "-w".to_owned(),
        " %{http_code}\n".to_owned(),
    ];
    let mut paths: Vec<&str> = FAILING.to_vec();
    paths.push("/after");
    for path in &paths {
        args.push(format!("http://127.0.0.1:{port}{path}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = curl(&args);
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().filter(|line| !line.is_empty()).collect();
    assert_eq!(
        lines,
        [
            "Internal Server Error",
            " 500",
            "Internal Server Error",
            " 500",
            "Internal Server Error",
            " 500",
            "Internal Server Error",
            " 500",
            "Internal Server Error",
            " 500",
            "Internal Server Error",
            " 500",
            "fine /after 200",
        ],
        "{out:?}"
    );
    let log = server.kill_and_collect().stderr;
    for needle in [
        "Error in HTTP handler: (error object is a table value whose __tostring failed: ",
        "boom in tostring",
        "Error in HTTP handler: nil",
        "Error in HTTP handler: table: ",
        "Error in HTTP handler: cannot send its response: ",
    ] {
        assert!(log.contains(needle), "stderr lacks {needle:?}:\n{log}");
    }
    assert_eq!(
        log.matches("Error in HTTP handler").count(),
        FAILING.len(),
        "{log}"
    );
}
