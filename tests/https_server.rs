//! The embedded HTTP server over TLS (`opts.tls = {cert, key}`), driven by curl with the test
//! CA, and by plua's own client.

mod support;

use support::{Pki, curl, http_server_script, start_http_server};

#[test]
fn https_server_answers_curl_and_the_plua_client_with_the_test_ca() {
    let pki = Pki::new();
    let opts = format!(
        "{{ tls = {{ cert = {:?}, key = {:?} }} }}",
        pki.path("server.pem"),
        pki.path("server.key")
    );
    let (_dir, server, port) = start_http_server(&http_server_script(
        r#"function(req) return 200, "secure " .. req.method .. " " .. req.body end"#,
        &opts,
    ));
    let url = format!("https://localhost:{port}/x");
    let out = curl(&["-s", "--cacert", &pki.path("ca.pem"), "-d", "hi", &url]);
    out.assert_code(0);
    assert_eq!(out.stdout, "secure POST hi");
    // Without the CA, curl refuses the certificate.
    let refused = curl(&["-s", &url]);
    assert_ne!(refused.code, Some(0), "curl accepted an unknown CA");
    server.kill_and_collect().assert_no_panic();
}
