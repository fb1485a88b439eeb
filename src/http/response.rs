//! Writing HTTP/1.1 responses: status line, headers (with `Content-Length`, `Date`-free for
//! speed, `Connection` as negotiated) and body, into one buffer ready for the transport.

use std::fmt::Write as _;

/// The reason phrase for common status codes.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// A response to serialise.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    /// Header fields as given by the handler (names kept as written).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A plain-text response.
    pub fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// Appends the wire form to `out`. `head_only` (HEAD requests) keeps `Content-Length` but
    /// leaves the body out; `keep_alive` decides the `Connection` header.
    pub fn write_to(&self, out: &mut Vec<u8>, head_only: bool, keep_alive: bool) {
        let mut head = String::with_capacity(128);
        let _ = write!(head, "HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        let mut has_type = false;
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("connection")
                || name.eq_ignore_ascii_case("transfer-encoding")
            {
                continue;
            }
            if name.contains(['\r', '\n', ':']) || value.contains(['\r', '\n']) {
                continue; // never let a handler split the response
            }
            has_type |= name.eq_ignore_ascii_case("content-type");
            let _ = write!(head, "{name}: {value}\r\n");
        }
        let bodiless = self.status < 200 || self.status == 204 || self.status == 304;
        if !has_type && !bodiless && !self.body.is_empty() {
            head.push_str("Content-Type: text/plain; charset=utf-8\r\n");
        }
        if !bodiless {
            let _ = write!(head, "Content-Length: {}\r\n", self.body.len());
        }
        head.push_str(if keep_alive {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        out.extend_from_slice(head.as_bytes());
        if !head_only && !bodiless {
            out.extend_from_slice(&self.body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_status_headers_and_body() {
        let mut response = Response::text(200, "hello");
        response
            .headers
            .push(("X-Evil\r\nInjected".into(), "1".into()));
        response.headers.push(("X-Ok".into(), "fine".into()));
        let mut out = Vec::new();
        response.write_to(&mut out, false, true);
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.contains("X-Ok: fine\r\n") && !text.contains("Injected"),
            "{text}"
        );
        assert!(
            text.ends_with("Content-Length: 5\r\nConnection: keep-alive\r\n\r\nhello"),
            "{text}"
        );
    }

    #[test]
    fn head_requests_get_the_length_but_no_body() {
        let mut out = Vec::new();
        Response::text(404, "missing").write_to(&mut out, true, false);
        let text = String::from_utf8(out).expect("utf8");
        assert!(
            text.contains("Content-Length: 7\r\n") && text.ends_with("Connection: close\r\n\r\n")
        );
    }
}
