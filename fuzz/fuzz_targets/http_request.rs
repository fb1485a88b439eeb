//! The HTTP server's request reading: `parse_head`, the body framing rules and the chunked
//! decoder fed in pieces (the first input byte picks the piece size, as reads would split it),
//! then the Lua `req` table built from the complete request. Invariants: no panic, a head never
//! claims more bytes than it was given, a decoded body stays within the limit.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use plua::http::framing::ChunkedDecoder;
use plua::http::request::{BodyFraming, Limits, Request, decode_query, framing, parse_head};

thread_local! {
    static LUA: mlua::Lua = mlua::Lua::new();
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let piece = usize::from(split % 64) + 1;
    let limits = Limits {
        max_body: 64 * 1024,
        ..Limits::default()
    };
    let Ok(Some((head, used))) = parse_head(data, &limits) else {
        return;
    };
    assert!(used <= data.len());
    let _ = decode_query(head.query());
    let _ = head.headers().count();
    let rest = &data[used..];
    let body = match framing(&head, &limits) {
        Ok(BodyFraming::Chunked) => {
            let mut decoder = ChunkedDecoder::default();
            let mut body = Vec::new();
            let mut pending: Vec<u8> = Vec::new();
            for chunk in rest.chunks(piece) {
                pending.extend_from_slice(chunk);
                match decoder.feed(&pending, &mut body, limits.max_body) {
                    Ok(consumed) => {
                        assert!(consumed <= pending.len());
                        pending.drain(..consumed);
                    }
                    Err(_) => return,
                }
                assert!(body.len() <= limits.max_body);
                if decoder.done() {
                    break;
                }
            }
            body
        }
        Ok(BodyFraming::Length(n)) => rest[..n.min(rest.len())].to_vec(),
        Ok(BodyFraming::Empty) => Vec::new(),
        Err(_) => return,
    };
    let request = Request {
        head,
        body,
        remote: Arc::from("127.0.0.1:1"),
    };
    LUA.with(|lua| {
        plua::lua::values::request_table(lua, &request).expect("request table");
    });
});
