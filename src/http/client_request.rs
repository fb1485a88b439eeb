//! A request for the reactor-native HTTP client ([`super::client`]): what the script asked
//! for, and its wire form (request line, the `Host`, `User-Agent`, `Accept` and
//! `Content-Length` a script did not set, its own header fields, the body).

use super::url::Url;

/// A request to send.
#[derive(Debug, Clone)]
pub struct ClientRequest {
    pub method: String,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Verify the server certificate (https).
    pub verify: bool,
    /// Extra CA certificates (PEM file) to trust.
    pub ca_file: Option<String>,
    /// Hand a successful (2xx) response's body to Lua piece by piece as it arrives (`head`
    /// and `chunk` events to the operation's listeners) instead of collecting it; the body
    /// has no size limit then.
    pub stream: bool,
}

impl ClientRequest {
    /// The request as bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.url.target);
        let has = |name: &str| {
            self.headers
                .iter()
                .any(|(key, _)| key.eq_ignore_ascii_case(name))
        };
        if !has("host") {
            head.push_str(&format!("Host: {}\r\n", self.url.host_header()));
        }
        if !has("user-agent") {
            head.push_str(concat!(
                "User-Agent: plua/",
                env!("CARGO_PKG_VERSION"),
                "\r\n"
            ));
        }
        if !has("accept") {
            head.push_str("Accept: */*\r\n");
        }
        let sends_body =
            !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH");
        if sends_body && !has("content-length") {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        for (name, value) in &self.headers {
            if name.contains(['\r', '\n']) || value.contains(['\r', '\n']) {
                continue;
            }
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}
