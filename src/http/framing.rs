//! How a message body is delimited (RFC 9112 §6): the grammar of `Content-Length` and
//! `Transfer-Encoding` values, and the incremental chunked decoder that the server and the
//! client share, with checked size arithmetic. (Choosing a request's framing from its fields
//! is `request::framing`, which builds on these.)

use super::error::RequestError;

/// What a `Transfer-Encoding` value asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// Exactly `chunked` (any case).
    Chunked,
    /// Well-formed codings other than a lone `chunked` (`gzip`, `gzip, chunked`).
    Unsupported,
    /// Not a list of codings, or `chunked` applied twice or not last.
    Invalid,
}

/// Classifies a `Transfer-Encoding` field value (RFC 9112 §6.1).
pub fn transfer_coding(value: &str) -> Coding {
    if value.eq_ignore_ascii_case("chunked") {
        return Coding::Chunked;
    }
    let codings: Vec<&str> = value.split(',').map(str::trim).collect();
    let token = |coding: &&str| {
        let name = coding.split(';').next().unwrap_or("").trim_end();
        !name.is_empty() && name.bytes().all(is_token_byte)
    };
    if !codings.iter().all(token) {
        return Coding::Invalid;
    }
    let chunked = |coding: &&str| coding.eq_ignore_ascii_case("chunked");
    let last = codings.len() - 1;
    if codings[..last].iter().any(chunked) {
        return Coding::Invalid;
    }
    Coding::Unsupported
}

/// A `tchar` of RFC 9110 §5.6.2.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// A `Content-Length` value: `None` unless it is one or more ASCII digits (no sign, space or
/// list), `Some(Err(()))` if it does not fit a `usize`.
pub fn parse_content_length(value: &str) -> Option<Result<usize, ()>> {
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    Some(value.parse().map_err(|_| ()))
}

/// Bytes of trailer fields after the last chunk.
const MAX_TRAILERS: usize = 16 * 1024;

/// Incremental decoder of a chunked body.
#[derive(Debug, Default)]
pub struct ChunkedDecoder {
    /// Bytes still expected in the current chunk (plus its CRLF).
    remaining: usize,
    in_chunk: bool,
    done: bool,
}

impl ChunkedDecoder {
    /// Consumes what it can from `input` into `body`; returns bytes used. `done()` tells when
    /// the final chunk and trailers were read.
    pub fn feed(
        &mut self,
        input: &[u8],
        body: &mut Vec<u8>,
        max_body: usize,
    ) -> Result<usize, RequestError> {
        let mut used = 0;
        while !self.done {
            let rest = &input[used..];
            if self.in_chunk {
                if self.remaining > 2 {
                    let take = rest.len().min(self.remaining - 2);
                    if take == 0 {
                        break;
                    }
                    if take > max_body.saturating_sub(body.len()) {
                        return Err(RequestError::BodyTooLarge);
                    }
                    body.extend_from_slice(&rest[..take]);
                    self.remaining -= take;
                    used += take;
                    continue;
                }
                if rest.len() < 2 {
                    break;
                }
                if &rest[..2] != b"\r\n" {
                    return Err(RequestError::Malformed("chunk not followed by CRLF".into()));
                }
                used += 2;
                self.in_chunk = false;
                continue;
            }
            let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else {
                if rest.len() > 1024 {
                    return Err(RequestError::Malformed("chunk size line too long".into()));
                }
                break;
            };
            let size = chunk_size(&rest[..line_end])?;
            used += line_end + 2;
            if size == 0 {
                // Trailers: skip header lines until an empty line.
                match skip_trailers(&input[used..]) {
                    Some(trailer_bytes) => {
                        used += trailer_bytes;
                        self.done = true;
                    }
                    None => {
                        if input.len() - used > MAX_TRAILERS {
                            return Err(RequestError::HeadTooLarge);
                        }
                        used -= line_end + 2;
                        break;
                    }
                }
            } else {
                // Checked: a size near `usize::MAX` must not wrap past the limit.
                if size > max_body.saturating_sub(body.len()) {
                    return Err(RequestError::BodyTooLarge);
                }
                self.remaining = size.checked_add(2).ok_or(RequestError::BodyTooLarge)?;
                self.in_chunk = true;
            }
        }
        Ok(used)
    }

    /// True once the whole body was read.
    pub fn done(&self) -> bool {
        self.done
    }
}

/// The size on a chunk-size line (`1a`, `1a;name=value`): hex digits only (no sign, no
/// leading space); blanks are allowed only before an extension. A size that does not fit a
/// `usize` is "too large", not malformed.
fn chunk_size(line: &[u8]) -> Result<usize, RequestError> {
    let invalid = || {
        RequestError::Malformed(format!(
            "invalid chunk size '{}'",
            String::from_utf8_lossy(line)
        ))
    };
    let digits = match line.iter().position(|&byte| byte == b';') {
        Some(semicolon) => {
            let end = line[..semicolon]
                .iter()
                .rposition(|&byte| byte != b' ' && byte != b'\t')
                .map_or(0, |last| last + 1);
            &line[..end]
        }
        None => line,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(invalid());
    }
    let mut size: usize = 0;
    for &digit in digits {
        let value = match digit {
            b'0'..=b'9' => digit - b'0',
            _ => (digit | 0x20) - b'a' + 10,
        };
        size = size
            .checked_mul(16)
            .and_then(|size| size.checked_add(usize::from(value)))
            .ok_or(RequestError::BodyTooLarge)?;
    }
    Ok(size)
}

fn skip_trailers(input: &[u8]) -> Option<usize> {
    let mut used = 0;
    loop {
        let rest = &input[used..];
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        used += end + 2;
        if end == 0 {
            return Some(used);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{Limits, parse_head};

    #[test]
    fn chunked_bodies_decode_across_pieces() {
        let raw = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        let mut decoder = ChunkedDecoder::default();
        let mut body = Vec::new();
        let mut used = 0;
        for end in [3, 9, 20, raw.len()] {
            used += decoder
                .feed(&raw[used..end], &mut body, 1024)
                .expect("decode");
        }
        assert!(decoder.done());
        assert_eq!(body, b"hello world");
        assert_eq!(&raw[used..], b"NEXT");
    }

    /// The status a request head gets, or 0 if it is accepted.
    fn head_status(raw: &str) -> u16 {
        match parse_head(raw.as_bytes(), &Limits::default()) {
            Ok(Some(_)) => 0,
            Ok(None) => 1,
            Err(error) => error.status(),
        }
    }

    #[test]
    fn ambiguous_framing_is_rejected() {
        let post = |fields: &str| head_status(&format!("POST / HTTP/1.1\r\n{fields}\r\n"));
        let cases = [
            ("Content-Length: 5\r\n", 0),
            ("Content-Length: 5\r\nContent-Length: 5\r\n", 0),
            ("Content-Length: 5\r\nContent-Length: 6\r\n", 400),
            ("Content-Length: 5, 5\r\n", 400),
            ("Content-Length: +5\r\n", 400),
            ("Content-Length: -1\r\n", 400),
            ("Content-Length: 5 junk\r\n", 400),
            ("Content-Length: 0x5\r\n", 400),
            ("Content-Length: 99999999999999999999999\r\n", 413),
            ("Transfer-Encoding: chunked\r\n", 0),
            ("Transfer-Encoding: CHUNKED\r\n", 0),
            ("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400),
            ("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400),
            (
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                400,
            ),
            ("Transfer-Encoding: chunked, chunked\r\n", 400),
            ("Transfer-Encoding: chunked, gzip\r\n", 400),
            ("Transfer-Encoding: ,chunked\r\n", 400),
            ("Transfer-Encoding: chunked\x0b\r\n", 400),
            ("Transfer-Encoding: gzip\r\n", 501),
            ("Transfer-Encoding: gzip, chunked\r\n", 501),
            ("Host : x\r\n", 400),
            ("Ho st: x\r\n", 400),
            ("Ho\x00st: x\r\n", 400),
            ("Host\x01: x\r\n", 400),
            ("X: a\x00b\r\n", 400),
        ];
        for (fields, status) in cases {
            assert_eq!(post(fields), status, "{fields:?}");
        }
        let old = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(head_status(old), 400);
    }

    /// Feeds a whole chunked body at once; the error status, or 0 and the body.
    fn decode(raw: &[u8], max_body: usize) -> (u16, Vec<u8>) {
        let mut body = Vec::new();
        match ChunkedDecoder::default().feed(raw, &mut body, max_body) {
            Ok(_) => (0, body),
            Err(error) => (error.status(), body),
        }
    }

    #[test]
    fn chunk_sizes_are_hex_digits_and_checked_against_overflow() {
        assert_eq!(
            decode(b"5 ;x\r\nhello\r\n0\r\n\r\n", 64),
            (0, b"hello".to_vec())
        );
        for bad in [
            &b"+5\r\nhello\r\n0\r\n\r\n"[..],
            b" 5\r\nhello\r\n0\r\n\r\n",
            b"5 \r\nhello\r\n0\r\n\r\n",
            b"-1\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"\r\n",
            b"zz\r\n",
        ] {
            assert_eq!(decode(bad, 64).0, 400, "{:?}", String::from_utf8_lossy(bad));
        }
        for huge in [
            &b"5\r\nhello\r\nffffffffffffffff\r\n\r\n0\r\n\r\n"[..],
            b"fffffffffffffffe\r\n",
            b"10000000000000000\r\n",
            b"ffffffffffffffffffffffff\r\n",
            b"41\r\n",
        ] {
            assert_eq!(
                decode(huge, 64).0,
                413,
                "{:?}",
                String::from_utf8_lossy(huge)
            );
        }
        assert_eq!(decode(b"fffffffffffffffe\r\n", usize::MAX).0, 413);
        let endless = [&b"0\r\n"[..], &b"X: y\r\n".repeat(4000)].concat();
        assert_eq!(decode(&endless, 64).0, 431);
    }
}
