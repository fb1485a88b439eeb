//! Reading HTTP/1.1 requests off a byte buffer: the head through `httparse`, then the body by
//! `Content-Length` or chunked framing, with the server's limits enforced as typed errors that
//! map to status codes (400, 413, 431, 501).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::framing::{Coding, parse_content_length, transfer_coding};

/// Limits applied while reading a request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of request line plus headers.
    pub max_head: usize,
    /// Number of header fields.
    pub max_headers: usize,
    /// Bytes of body.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 16 * 1024,
            max_headers: 100,
            max_body: 8 * 1024 * 1024,
        }
    }
}

pub use super::error::{BodyFraming, RequestError};

/// A byte range of [`Head`]'s text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

/// A parsed request head. Its strings (method, path, query, header names and values) live back
/// to back in one owned text, so reading a head costs two allocations whatever the number of
/// header fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    text: String,
    method: Span,
    /// The path without the query string.
    path: Span,
    /// The raw query string (after `?`), empty if none.
    query: Span,
    /// Header fields (lower-case name, trimmed value), in order (repeated names kept).
    headers: Vec<(Span, Span)>,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub version: u8,
    pub framing: BodyFraming,
    /// The client asked for `100 Continue` before sending the body.
    pub expect_continue: bool,
    /// The connection should stay open after this exchange.
    pub keep_alive: bool,
}

impl Head {
    fn get(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }

    /// The request method as sent (`GET`, `POST`, ...).
    pub fn method(&self) -> &str {
        self.get(self.method)
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        self.get(self.path)
    }

    /// The raw query string (after `?`), empty if none.
    pub fn query(&self) -> &str {
        self.get(self.query)
    }

    /// Header fields as (lower-case name, trimmed value), in order, repeated names kept.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .map(|&(name, value)| (self.get(name), self.get(value)))
    }

    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }
}

/// A complete request on its way to the Lua handler, which sees it as the `req` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub head: Head,
    pub body: Vec<u8>,
    /// The peer's address, `ip:port`.
    pub remote: Arc<str>,
}

/// Header slots parsed on the stack; servers allowing more header fields use the heap.
const STACK_HEADERS: usize = 128;

/// Parses a request head from the front of `buffer`; `Ok(None)` if more bytes are needed.
/// On success returns the head and the number of bytes it used.
pub fn parse_head(buffer: &[u8], limits: &Limits) -> Result<Option<(Head, usize)>, RequestError> {
    let mut on_stack =
        [const { std::mem::MaybeUninit::<httparse::Header>::uninit() }; STACK_HEADERS];
    let mut on_heap = Vec::new();
    let fields = if limits.max_headers <= STACK_HEADERS {
        &mut on_stack[..limits.max_headers]
    } else {
        on_heap.resize_with(limits.max_headers, std::mem::MaybeUninit::uninit);
        &mut on_heap[..]
    };
    let mut request = httparse::Request::new(&mut []);
    let used = match request.parse_with_uninit_headers(buffer, fields) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => {
            if buffer.len() > limits.max_head {
                return Err(RequestError::HeadTooLarge);
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::HeadTooLarge),
        Err(error) => return Err(RequestError::Malformed(error.to_string())),
    };
    if used > limits.max_head {
        return Err(RequestError::HeadTooLarge);
    }
    let version = request.version.unwrap_or(1);
    let target = request.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut text = String::with_capacity(used);
    let mut append = |part: &str| {
        let start = text.len();
        text.push_str(part);
        Span {
            start,
            end: text.len(),
        }
    };
    let method = append(request.method.unwrap_or("GET"));
    let path = append(path);
    let query = append(query);
    let mut headers = Vec::with_capacity(request.headers.len());
    for field in request.headers.iter() {
        let name = append(field.name);
        // `from_utf8` first: the lossy conversion walks valid input more slowly.
        let value = match std::str::from_utf8(field.value) {
            Ok(value) => append(value.trim()),
            Err(_) => append(String::from_utf8_lossy(field.value).trim()),
        };
        headers.push((name, value));
    }
    for (name, _) in &headers {
        if let Some(name) = text.get_mut(name.start..name.end) {
            name.make_ascii_lowercase();
        }
    }
    let mut head = Head {
        text,
        method,
        path,
        query,
        version,
        headers,
        framing: BodyFraming::Empty,
        expect_continue: false,
        keep_alive: version >= 1,
    };
    head.framing = framing(&head, limits)?;
    if let Some(connection) = head.header("connection") {
        if contains_ignore_case(connection, "close") {
            head.keep_alive = false;
        } else if contains_ignore_case(connection, "keep-alive") {
            head.keep_alive = true;
        }
    }
    head.expect_continue = head
        .header("expect")
        .is_some_and(|value| value.eq_ignore_ascii_case("100-continue"));
    Ok(Some((head, used)))
}

/// True if `text` contains `word` (ASCII, any case), without a lower-case copy.
fn contains_ignore_case(text: &str, word: &str) -> bool {
    text.as_bytes()
        .windows(word.len())
        .any(|window| window.eq_ignore_ascii_case(word.as_bytes()))
}

/// Decodes `a=1&b=x%20y` into a map (the last value of a repeated key wins; `+` is a space).
pub fn decode_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

/// Percent-decoding with `+` as space; invalid escapes are kept as they are.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How a request's body is framed (RFC 9112 §6): `Transfer-Encoding: chunked` (exactly, in
/// one field) or one `Content-Length` of plain digits (repeated fields must agree). Messages
/// that could be read two ways (both fields, several `Transfer-Encoding` fields, a coding list,
/// a length with a sign, spaces or a comma list) are rejected with 400, so no byte of a body is
/// ever read as a next request; a coding other than `chunked` alone is 501.
pub fn framing(head: &Head, limits: &Limits) -> Result<BodyFraming, RequestError> {
    let mut encoding = None;
    let mut length: Option<&str> = None;
    for (name, value) in head.headers() {
        match name {
            "transfer-encoding" => {
                let repeated = encoding.replace(value).is_some();
                if repeated {
                    return Err(RequestError::Malformed(
                        "more than one Transfer-Encoding field".into(),
                    ));
                }
            }
            "content-length" => {
                if length.is_some_and(|first| first != value) {
                    return Err(RequestError::Malformed("conflicting Content-Length".into()));
                }
                length = Some(value);
            }
            _ => {}
        }
    }
    if let Some(encoding) = encoding {
        if length.is_some() {
            return Err(RequestError::Malformed(
                "both Content-Length and Transfer-Encoding".into(),
            ));
        }
        if head.version == 0 {
            return Err(RequestError::Malformed(
                "Transfer-Encoding in an HTTP/1.0 request".into(),
            ));
        }
        return match transfer_coding(encoding) {
            Coding::Chunked => Ok(BodyFraming::Chunked),
            Coding::Unsupported => Err(RequestError::UnsupportedEncoding(encoding.to_owned())),
            Coding::Invalid => Err(RequestError::Malformed(format!(
                "invalid Transfer-Encoding '{encoding}'"
            ))),
        };
    }
    let Some(length) = length else {
        return Ok(BodyFraming::Empty);
    };
    match parse_content_length(length) {
        Some(Ok(length)) if length > limits.max_body => Err(RequestError::BodyTooLarge),
        Some(Ok(0)) => Ok(BodyFraming::Empty),
        Some(Ok(length)) => Ok(BodyFraming::Length(length)),
        Some(Err(())) => Err(RequestError::BodyTooLarge),
        None => Err(RequestError::Malformed(format!(
            "invalid Content-Length '{length}'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_head_with_query_and_lower_case_headers() {
        let raw = b"POST /api/x?a=1&b=two%20words HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX-Thing: Yes\r\n\r\nabc";
        let (head, used) = parse_head(raw, &Limits::default())
            .expect("ok")
            .expect("complete");
        assert_eq!(used, raw.len() - 3);
        assert_eq!((head.method(), head.path()), ("POST", "/api/x"));
        assert_eq!(head.framing, BodyFraming::Length(3));
        assert_eq!(head.header("x-thing"), Some("Yes"));
        let query = decode_query(head.query());
        assert_eq!(query.get("b").map(String::as_str), Some("two words"));
        assert!(head.keep_alive);
    }

    #[test]
    fn header_fields_keep_their_order_repeats_and_trimmed_values() {
        let raw = b"GET /p HTTP/1.1\r\nX-A: 1\r\nx-b:  two \r\nX-A: 3\r\nX-Bin: \xff!\r\n\r\n";
        let (head, _) = parse_head(raw, &Limits::default())
            .expect("ok")
            .expect("complete");
        let fields: Vec<(&str, &str)> = head.headers().collect();
        assert_eq!(
            fields,
            [
                ("x-a", "1"),
                ("x-b", "two"),
                ("x-a", "3"),
                ("x-bin", "\u{fffd}!")
            ]
        );
        assert_eq!((head.query(), head.header("x-a")), ("", Some("1")));
    }

    #[test]
    fn connection_header_decides_keep_alive_in_any_case() {
        let limits = Limits::default();
        let keep_alive = |raw: &[u8]| {
            parse_head(raw, &limits)
                .expect("ok")
                .expect("done")
                .0
                .keep_alive
        };
        assert!(!keep_alive(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"));
        assert!(keep_alive(b"GET / HTTP/1.1\r\n\r\n"));
        assert!(!keep_alive(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(keep_alive(
            b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
        ));
        assert!(!keep_alive(
            b"GET / HTTP/1.0\r\nConnection: x, CLOSE\r\n\r\n"
        ));
    }

    #[test]
    fn partial_heads_wait_and_limits_map_to_statuses() {
        let limits = Limits {
            max_head: 64,
            ..Limits::default()
        };
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\nHost:", &limits), Ok(None));
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(100));
        assert_eq!(
            parse_head(long.as_bytes(), &limits)
                .map(|_| ())
                .unwrap_err()
                .status(),
            431
        );
        let bad = parse_head(b"GARBAGE\x01 / HTTP/1.1\r\n\r\n", &limits).unwrap_err();
        assert_eq!(bad.status(), 400);
        let huge = b"POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n";
        assert_eq!(
            parse_head(huge, &Limits::default()).unwrap_err().status(),
            413
        );
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("a%2Fb+c%zz%"), "a/b c%zz%");
    }
}
