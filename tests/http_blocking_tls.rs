//! `_PY.http_request_blocking_pool` (ureq on the worker pool) honours `verify` and `cafile` as
//! the reactor client does: against `openssl s_server -www` with a throw-away test CA, a request
//! fails with a certificate error without the CA, succeeds with `cafile` naming it, and
//! succeeds with `verify = false`; a `cafile` that cannot be read is reported.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Output, Pki, Running, free_port, run_named_script, wait_until_accepting};

/// `openssl s_server -www` (answers every GET with a status page) on 127.0.0.1 with the test
/// PKI's server certificate. Returns the running server and its port once it accepts.
fn s_server(pki: &Pki) -> (Running, u16) {
    for _ in 0..5 {
        let port = free_port();
        let mut cmd = Command::new("openssl");
        cmd.args(["s_server", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .args([
                "-cert",
                &pki.path("server.pem"),
                "-key",
                &pki.path("server.key"),
            ])
            .args(["-www", "-quiet"]);
        let mut server = Running::start(cmd, true);
        if wait_until_accepting(port, Duration::from_secs(10)) && server.is_running() {
            return (server, port);
        }
        // The port was taken in between (or s_server failed): try another one.
        let _ = server.kill_and_collect();
    }
    panic!("could not start openssl s_server");
}

/// Runs one blocking-pool request to the server with the extra request fields `fields` (Lua
/// table entries) and prints `code`, `error` and the error message or the body's first line.
fn request(pki: &Pki, port: u16, fields: &str) -> Output {
    let src = format!(
        r#"
_PY.http_request_blocking_pool({{url = "https://127.0.0.1:" .. arg[1] .. "/", timeout = 10,
    {fields}}}, function(r)
  print(r.code, r.error, r.error_message or r.body:match("[^\n]*"))
end)
"#
    );
    let out = run_named_script(
        "client.lua",
        &src,
        &[],
        &[&port.to_string(), &pki.path("ca.pem")],
    );
    out.assert_code(0).assert_no_panic();
    out
}

#[test]
fn blocking_pool_without_the_ca_fails_with_a_certificate_error() {
    let pki = Pki::new();
    let (_server, port) = s_server(&pki);
    let out = request(&pki, port, "");
    assert!(
        out.stdout
            .starts_with("0\ttrue\tcertificate verify failed: unknown issuer"),
        "{out:?}"
    );
}

#[test]
fn blocking_pool_with_cafile_trusts_that_ca() {
    let pki = Pki::new();
    let (_server, port) = s_server(&pki);
    let out = request(&pki, port, "cafile = arg[2]");
    assert!(out.stdout.starts_with("200\tnil\t"), "{out:?}");
}

#[test]
fn blocking_pool_with_verify_false_accepts_any_certificate() {
    let pki = Pki::new();
    let (_server, port) = s_server(&pki);
    let out = request(&pki, port, "verify = false");
    assert!(out.stdout.starts_with("200\tnil\t"), "{out:?}");
}

#[test]
fn blocking_pool_reports_an_unreadable_cafile() {
    let pki = Pki::new();
    let (_server, port) = s_server(&pki);
    let out = request(&pki, port, "cafile = arg[2] .. '.missing'");
    assert!(
        out.stdout
            .starts_with("0\ttrue\tcannot read certificate file "),
        "{out:?}"
    );
}
