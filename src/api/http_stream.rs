//! The Rust primitives behind a server's static mounts and streamed responses: `http_static`
//! (`server:static`), `http_stream_start` / `http_stream_write` (`res:write`, `res:finish`,
//! a handler that returns a function) and `http_stream_wait` (a writer waits for a slow
//! client). The Lua half is `lua_stdlib/plua/http_response.lua`.

use mlua::{Lua, LuaString, MultiValue, Result, Table, Value};

use crate::api::args::{failure, string_pairs};
use crate::http::outgoing::STREAM_HIGH_WATER;
use crate::http::response::Response;
use crate::http::static_files::MountOptions;
use crate::sockets::SharedReactor;

/// Adds the static-file and streaming primitives to `core`.
pub fn register(lua: &Lua, core: &Table, reactor: &SharedReactor) -> Result<()> {
    let r = reactor.clone();
    core.set(
        "http_static",
        lua.create_function(
            move |lua, (server, prefix, directory, opts): (u64, String, String, Option<Table>)| {
                let mut options = MountOptions::default();
                if let Some(opts) = opts {
                    options.index = opts.get::<Option<String>>("index")?;
                    options.cache = opts
                        .get::<Option<f64>>("cache")?
                        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                        .map(|seconds| seconds.min(u32::MAX as f64) as u64);
                }
                let mut reactor = r.borrow_mut();
                let (net, _) = reactor.net();
                match net.http_static(server, &prefix, std::path::Path::new(&directory), options) {
                    Ok(true) => Ok(MultiValue::from_vec(vec![Value::Boolean(true)])),
                    Ok(false) => failure(lua, "static: the server is not running"),
                    Err(error) => failure(lua, error),
                }
            },
        )?,
    )?;

    let r = reactor.clone();
    core.set(
        "http_stream_start",
        lua.create_function(
            move |_, (conn, seq, status, headers): (u64, u64, u16, Option<Table>)| {
                let response = Response {
                    status,
                    headers: string_pairs(headers.as_ref())?,
                    body: b"",
                };
                let mut reactor = r.borrow_mut();
                let (net, _) = reactor.net();
                Ok(net.http_stream_start(conn, seq, &response))
            },
        )?,
    )?;

    let r = reactor.clone();
    core.set(
        "http_stream_write",
        lua.create_function(
            move |_, (conn, seq, data, last): (u64, u64, Option<LuaString>, bool)| {
                let bytes = data.as_ref().map(|data| data.as_bytes());
                let data: &[u8] = bytes.as_deref().unwrap_or(b"");
                let mut reactor = r.borrow_mut();
                let (net, _) = reactor.net();
                // true: queued; false: queued, and the writer should wait for the client
                // (http_stream_wait); nil: the client is gone.
                Ok(net
                    .http_stream_write(conn, seq, data, last)
                    .map(|unsent| unsent < STREAM_HIGH_WATER))
            },
        )?,
    )?;

    let r = reactor.clone();
    core.set(
        "http_stream_wait",
        lua.create_function(move |_, conn: u64| {
            let mut reactor = r.borrow_mut();
            let op = reactor.ids.next_id();
            let (net, _) = reactor.net();
            Ok(net.http_stream_wait(conn, op).then_some(op))
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "http_conn_close",
        lua.create_function(move |_, conn: u64| {
            let mut reactor = r.borrow_mut();
            let (net, _) = reactor.net();
            Ok(net.http_conn_close(conn))
        })?,
    )?;
    Ok(())
}
