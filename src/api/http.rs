//! The Rust primitives behind `_PY.http_server_start` / `_PY.http_server_stop`; the Lua half
//! (`lua_stdlib/plua/http_server.lua`) runs handlers in task coroutines and answers through
//! `http_respond`.

use std::time::Duration;

use mlua::{Lua, LuaString, MultiValue, Result, Table, Value};

use crate::api::args::failure;
use crate::api::args::string_pairs;
use crate::http::blocking::{self, BlockingRequest};
use crate::http::client::ClientRequest;
use crate::http::request::Limits;
use crate::http::response::Response;
use crate::http::server::{ServerOptions, WsRoutes};
use crate::http::url::Url;
use crate::net::tls;
use crate::reactor::duration;
use crate::reactor::pool::JobOutput;
use crate::sockets::SharedReactor;

/// Server options from a script's `opts` table: limits, timeouts, `tls = {cert, key}` and
/// `websocket = {[path] = WebSocket server id}`.
pub(crate) fn options_from(opts: Option<Table>) -> std::result::Result<ServerOptions, String> {
    let mut options = ServerOptions::default();
    let Some(opts) = opts else {
        return Ok(options);
    };
    let get = |key: &str| -> Option<f64> { opts.get::<Option<f64>>(key).ok().flatten() };
    let size = |key: &str, default: usize| {
        get(key)
            .filter(|v| *v >= 1.0)
            .map_or(default, |v| v as usize)
    };
    let seconds = |key: &str, default: Duration| duration::positive_secs_or(get(key), default);
    let defaults = Limits::default();
    options.limits = Limits {
        max_head: size("max_header_size", defaults.max_head),
        max_headers: size("max_headers", defaults.max_headers),
        max_body: size("max_body_size", defaults.max_body),
    };
    options.max_connections = size("max_connections", options.max_connections);
    options.idle_timeout = seconds("idle_timeout", options.idle_timeout);
    options.read_timeout = seconds("read_timeout", options.read_timeout);
    if let Ok(Some(routes)) = opts.get::<Option<Table>>("websocket") {
        let mut ws_routes = WsRoutes::default();
        for pair in routes.pairs::<String, u64>() {
            let (path, server) =
                pair.map_err(|_| "websocket routes must map paths to WebSocket server ids")?;
            ws_routes.routes.push((path, server));
        }
        options.websocket = Some(std::sync::Arc::new(ws_routes));
    }
    if let Ok(Some(tls_opts)) = opts.get::<Option<Table>>("tls") {
        let cert: Option<String> = tls_opts.get("cert").ok().flatten();
        let key: Option<String> = tls_opts.get("key").ok().flatten();
        match (cert, key) {
            (Some(cert), Some(key)) => {
                let config =
                    tls::server_config(std::path::Path::new(&cert), std::path::Path::new(&key))
                        .map_err(|error| error.to_string())?;
                options.tls = Some(config);
            }
            _ => return Err("tls needs both cert and key".into()),
        }
    }
    Ok(options)
}

/// `http_request(method, url, headers, body, timeout, verify, cafile, stream)`.
type RequestArgs = (
    String,
    String,
    Option<Table>,
    Option<LuaString>,
    Option<f64>,
    Option<bool>,
    Option<String>,
    Option<bool>,
);

/// Adds the HTTP client and server primitives to `core`.
pub fn register(lua: &Lua, core: &Table, reactor: &SharedReactor) -> Result<()> {
    let r = reactor.clone();
    core.set(
        "http_server_start",
        lua.create_function(
            move |lua, (host, port, opts): (String, i64, Option<Table>)| {
                let failure = |error: &dyn std::fmt::Display| failure(lua, error);
                let Ok(port) = u16::try_from(port) else {
                    return failure(&format!("port {port} is out of range (0-65535)"));
                };
                let options = match options_from(opts) {
                    Ok(options) => options,
                    Err(message) => return failure(&message),
                };
                let mut reactor = r.borrow_mut();
                let (net, mut ctx) = reactor.net();
                match net.http_start(&mut ctx, &host, port, options) {
                    Ok((id, address)) => Ok(MultiValue::from_vec(vec![
                        Value::Integer(id as i64),
                        Value::Integer(i64::from(address.port())),
                    ])),
                    Err(error) => failure(&error),
                }
            },
        )?,
    )?;

    let r = reactor.clone();
    core.set(
        "http_request",
        lua.create_function(
            move |lua, (method, url, headers, body, timeout, verify, ca_file, stream): RequestArgs| {
                let url = match Url::parse(&url) {
                    Ok(url) => url,
                    Err(error) => return failure(lua, error),
                };
                let request = ClientRequest {
                    method: method.to_ascii_uppercase(),
                    url,
                    headers: string_pairs(headers.as_ref())?,
                    body: body.map(|b| b.as_bytes().to_vec()).unwrap_or_default(),
                    verify: verify.unwrap_or(true),
                    ca_file,
                    stream: stream.unwrap_or(false),
                };
                let timeout = timeout.filter(|t| t.is_finite() && *t > 0.0);
                let mut reactor = r.borrow_mut();
                let op = reactor.ids.next_id();
                let (net, mut ctx) = reactor.net();
                net.http_request(&mut ctx, request, timeout, op);
                Ok(MultiValue::from_vec(vec![Value::Integer(op as i64)]))
            },
        )?,
    )?;

    let r = reactor.clone();
    core.set(
        "http_blocking",
        lua.create_function(
            move |lua, (method, url, headers, body, timeout, verify, ca_file, _): RequestArgs| {
                let request = BlockingRequest {
                    method: method.to_ascii_uppercase(),
                    url,
                    headers: string_pairs(headers.as_ref())?,
                    body: body.map(|b| b.as_bytes().to_vec()).unwrap_or_default(),
                    timeout: duration::positive_secs_or(timeout, Duration::from_secs(30)),
                    verify: verify.unwrap_or(true),
                    ca_file,
                };
                let mut reactor = r.borrow_mut();
                let op = reactor.ids.next_id();
                let (_, ctx) = reactor.net();
                match ctx
                    .pool
                    .submit(op, move || Box::new(blocking::run(request)) as JobOutput)
                {
                    Ok(()) => Ok(MultiValue::from_vec(vec![Value::Integer(op as i64)])),
                    Err(error) => Ok(MultiValue::from_vec(vec![
                        Value::Nil,
                        Value::String(lua.create_string(error.to_string())?),
                    ])),
                }
            },
        )?,
    )?;

    core.set(
        "url_join",
        lua.create_function(|_, (base, location): (String, String)| {
            Ok(Url::parse(&base)
                .and_then(|base| base.join(&location))
                .map(|url| url.to_text())
                .ok())
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "http_server_stop",
        lua.create_function(move |_, id: u64| {
            let mut reactor = r.borrow_mut();
            let (net, mut ctx) = reactor.net();
            Ok(net.http_stop(&mut ctx, id))
        })?,
    )?;

    let r = reactor.clone();
    let slow_respond = lua.create_function(
        move |_, (conn, seq, status, body, headers): (u64, u64, Value, Value, Value)| {
            // Only a final status with a string body and a table of headers (or none) is
            // sent as it is; for anything else the answer is nil and the Lua side
            // normalises the values and calls again.
            let (Value::Integer(status @ 100..=999), Value::String(body)) = (status, body) else {
                return Ok(None);
            };
            let headers = match headers {
                Value::Nil => None,
                Value::Table(headers) => Some(headers),
                _ => return Ok(None),
            };
            let body = body.as_bytes();
            let response = Response {
                status: status as u16,
                headers: string_pairs(headers.as_ref())?,
                body: &body,
            };
            let mut reactor = r.borrow_mut();
            let (net, mut ctx) = reactor.net();
            Ok(Some(net.http_respond(&mut ctx, conn, seq, &response)))
        },
    )?;
    // The common answer skips the mlua callback (src/api/http_respond.rs).
    core.set(
        "http_respond",
        super::http_respond::http_respond_function(lua, reactor, slow_respond)?,
    )?;
    Ok(())
}
