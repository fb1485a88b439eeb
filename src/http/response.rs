//! Writing HTTP/1.1 responses: status line, headers (with `Content-Length`, `Date`-free for
//! speed, `Connection` as negotiated) and body, into one buffer ready for the transport.

/// The reason phrase for common status codes.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
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
        416 => "Range Not Satisfiable",
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

/// A response to serialise; the body is borrowed (from the handler's Lua string, say).
#[derive(Debug, Clone, Default)]
pub struct Response<'a> {
    pub status: u16,
    /// Header fields as given by the handler (names kept as written).
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

impl<'a> Response<'a> {
    /// A plain-text response.
    pub fn text(status: u16, body: &'a str) -> Response<'a> {
        Response {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: body.as_bytes(),
        }
    }

    /// Appends the wire form to `out`. `head_only` (HEAD requests) keeps `Content-Length` but
    /// leaves the body out; `keep_alive` decides the `Connection` header.
    pub fn write_to(&self, out: &mut Vec<u8>, head_only: bool, keep_alive: bool) {
        out.reserve(128 + self.body.len());
        let bodiless = self.write_head(
            out,
            BodyLength::Known(self.body.len() as u64),
            !self.body.is_empty(),
            keep_alive,
        );
        if !head_only && !bodiless {
            out.extend_from_slice(self.body);
        }
    }

    /// Appends the status line and header fields, the framing of a body of `length`
    /// (`Content-Length` or `Transfer-Encoding: chunked`), the `Connection` header and the blank
    /// line; the body is not written. A plain-text `Content-Type` is added when the handler
    /// named none and `has_body`. Returns true for statuses that never carry a body (1xx, 204,
    /// 304), whose framing header is left out.
    pub fn write_head(
        &self,
        out: &mut Vec<u8>,
        length: BodyLength,
        has_body: bool,
        keep_alive: bool,
    ) -> bool {
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(out, self.status.into());
        out.push(b' ');
        out.extend_from_slice(reason(self.status).as_bytes());
        out.extend_from_slice(b"\r\n");
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
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let bodiless = self.status < 200 || self.status == 204 || self.status == 304;
        if !has_type && !bodiless && has_body {
            out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
        }
        if !bodiless {
            match length {
                BodyLength::Known(length) => {
                    out.extend_from_slice(b"Content-Length: ");
                    push_decimal(out, length);
                    out.extend_from_slice(b"\r\n");
                }
                BodyLength::Chunked => {
                    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                }
                BodyLength::UntilClose => {}
            }
        }
        out.extend_from_slice(if keep_alive {
            b"Connection: keep-alive\r\n\r\n"
        } else {
            b"Connection: close\r\n\r\n"
        });
        bodiless
    }
}

/// How a response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// `Content-Length: n`.
    Known(u64),
    /// `Transfer-Encoding: chunked` (a stream of unknown length to an HTTP/1.1 client).
    Chunked,
    /// Neither: the body ends when the connection closes (a stream to an HTTP/1.0 client).
    UntilClose,
}

/// Appends one chunk of a chunked body (`size CRLF data CRLF`); an empty `data` is skipped
/// (it would end the body).
pub fn push_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.reserve(data.len() + 20);
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut n = data.len();
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[n % 16];
        n /= 16;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk of a chunked body, with no trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Appends `n` in decimal (without going through `core::fmt`, which costs more than the rest
/// of a small response).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
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
    fn chunks_carry_their_size_in_hex() {
        let mut out = Vec::new();
        push_chunk(&mut out, &[b'x'; 26]);
        push_chunk(&mut out, b"");
        out.extend_from_slice(LAST_CHUNK);
        assert_eq!(
            out,
            [b"1a\r\n".as_slice(), &[b'x'; 26], b"\r\n0\r\n\r\n"].concat()
        );
    }

    #[test]
    fn a_stream_head_says_chunked_and_has_no_length() {
        let mut out = Vec::new();
        Response::text(200, "").write_head(&mut out, BodyLength::Chunked, true, true);
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
        assert!(!text.contains("Content-Length"), "{text}");
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0u64, 7, 10, 204, 999, 123_456_789, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
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
