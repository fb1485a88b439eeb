//! The Rust primitives behind the `_PY.websocket_*` families; the Lua half
//! (`lua_stdlib/plua/websocket.lua`) checks arguments and keeps the listeners. Events reach
//! Lua as emits of the client id (`connected`, `dataReceived`, `error`, `disconnected`) or of
//! the server id (`client_connected`, `message`, `error`, `client_disconnected`).

use mlua::{Function, Lua, LuaString, MultiValue, Result, Table, Value};

use crate::api::args::failure;
use crate::api::args::string_pairs;
use crate::sockets::SharedReactor;
use crate::sockets::{WsConnectOptions, WsServerOptions, WsSizes};
use crate::ws::keepalive::Keepalive;

/// Close code sent by `websocket_close` without one: normal closure.
const NORMAL_CLOSE: u16 = 1000;

fn connect_options(opts: Option<&Table>) -> WsConnectOptions {
    let mut options = WsConnectOptions {
        verify: true,
        ..WsConnectOptions::default()
    };
    if let Some(opts) = opts {
        if let Ok(Some(verify)) = opts.get::<Option<bool>>("verify") {
            options.verify = verify;
        }
        options.ca_file = opts.get::<Option<String>>("cafile").ok().flatten();
        options.timeout = opts
            .get::<Option<f64>>("timeout")
            .ok()
            .flatten()
            .filter(|t| t.is_finite() && *t > 0.0);
        options.sizes = sizes(opts);
    }
    options
}

/// `max_message_size` and `max_input` (bytes) of an options table; others are ignored.
fn sizes(opts: &Table) -> WsSizes {
    let size = |key: &str| {
        opts.get::<Option<f64>>(key)
            .ok()
            .flatten()
            .filter(|size| *size >= 1.0)
            .map(|size| size as usize)
    };
    WsSizes {
        max_message: size("max_message_size"),
        max_input: size("max_input"),
    }
}

/// `idle_timeout`, `ping_interval` (seconds; `0` turns either off) and `ping_timeout` of a
/// server's options table; absent or invalid ones keep their defaults.
fn keepalive(opts: &Table) -> Keepalive {
    let mut keepalive = Keepalive::default();
    let seconds = |key: &str| {
        opts.get::<Option<f64>>(key)
            .ok()
            .flatten()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| std::time::Duration::from_secs_f64(s.min(1e9)))
    };
    let or_off = |value: std::time::Duration| (!value.is_zero()).then_some(value);
    if let Some(idle) = seconds("idle_timeout") {
        keepalive.idle_timeout = or_off(idle);
    }
    if let Some(interval) = seconds("ping_interval") {
        keepalive.ping_interval = or_off(interval);
    }
    if let Some(timeout) = seconds("ping_timeout").filter(|t| !t.is_zero()) {
        keepalive.ping_timeout = timeout;
    }
    keepalive
}

/// Adds the WebSocket primitives to `core`.
pub fn register(lua: &Lua, core: &Table, reactor: &SharedReactor) -> Result<()> {
    let r = reactor.clone();
    core.set(
        "ws_client_create",
        lua.create_function(move |_, ()| {
            let mut reactor = r.borrow_mut();
            let (net, mut ctx) = reactor.net();
            Ok(net.ws_client_create(&mut ctx))
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "ws_connect",
        lua.create_function(
            move |lua, (id, url, headers, opts): (u64, String, Option<Table>, Option<Table>)| {
                let header_list = string_pairs(headers.as_ref())?;
                let options = connect_options(opts.as_ref());
                let mut reactor = r.borrow_mut();
                let (net, mut ctx) = reactor.net();
                match net.ws_connect(&mut ctx, id, &url, &header_list, options) {
                    Ok(()) => Ok(MultiValue::from_vec(vec![Value::Boolean(true)])),
                    Err(message) => failure(lua, message),
                }
            },
        )?,
    )?;

    let r = reactor.clone();
    core.set(
        "ws_send_functions",
        lua.create_function(
            move |lua, (slow_client, slow_server): (Function, Function)| {
                super::ws_send::ws_send_functions(lua, &r, slow_client, slow_server)
            },
        )?,
    )?;

    let r = reactor.clone();
    core.set(
        "ws_client_release",
        lua.create_function(move |_, id: u64| Ok(r.borrow_mut().net.ws_client_release(id)))?,
    )?;

    let r = reactor.clone();
    core.set(
        "ws_send",
        lua.create_function(
            move |lua, (id, data, binary): (u64, LuaString, Option<bool>)| {
                let mut reactor = r.borrow_mut();
                match reactor
                    .net
                    .ws_send(id, &data.as_bytes(), binary.unwrap_or(false))
                {
                    Ok(()) => Ok(MultiValue::from_vec(vec![Value::Boolean(true)])),
                    Err(message) => failure(lua, message),
                }
            },
        )?,
    )?;

    let r = reactor.clone();
    core.set(
        "ws_is_open",
        lua.create_function(move |_, id: u64| Ok(r.borrow().net.ws_is_open(id)))?,
    )?;

    let r = reactor.clone();
    core.set(
        "ws_close",
        lua.create_function(
            move |_, (id, code, reason): (u64, Option<u16>, Option<String>)| {
                let mut reactor = r.borrow_mut();
                let (net, mut ctx) = reactor.net();
                Ok(net.ws_close(
                    &mut ctx,
                    id,
                    code.unwrap_or(NORMAL_CLOSE),
                    reason.as_deref().unwrap_or(""),
                ))
            },
        )?,
    )?;

    let r = reactor.clone();
    core.set(
        "ws_server_create",
        lua.create_function(move |_, ()| {
            let mut reactor = r.borrow_mut();
            let (net, mut ctx) = reactor.net();
            Ok(net.ws_server_create(&mut ctx))
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "ws_server_start",
        lua.create_function(
            move |lua, (id, host, port, opts): (u64, String, i64, Option<Table>)| {
                let Ok(port) = u16::try_from(port) else {
                    return failure(lua, format!("port {port} is out of range (0-65535)"));
                };
                let limits = opts.as_ref().map(sizes).unwrap_or_default();
                let keepalive = opts.as_ref().map(keepalive).unwrap_or_default();
                let options = match crate::api::http::options_from(opts) {
                    Ok(options) => options,
                    Err(message) => return failure(lua, message),
                };
                let mut reactor = r.borrow_mut();
                let (net, mut ctx) = reactor.net();
                match net.ws_server_start(
                    &mut ctx,
                    id,
                    &host,
                    port,
                    options,
                    WsServerOptions {
                        sizes: limits,
                        keepalive,
                    },
                ) {
                    Ok(address) => Ok(MultiValue::from_vec(vec![Value::Integer(i64::from(
                        address.port(),
                    ))])),
                    Err(message) => failure(lua, message),
                }
            },
        )?,
    )?;

    let r = reactor.clone();
    core.set(
        "ws_server_close",
        lua.create_function(move |_, id: u64| {
            let mut reactor = r.borrow_mut();
            let (net, mut ctx) = reactor.net();
            Ok(net.ws_server_close(&mut ctx, id))
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "ws_broadcast",
        lua.create_function(
            move |lua, (id, data, binary): (u64, LuaString, Option<bool>)| {
                let mut reactor = r.borrow_mut();
                match reactor
                    .net
                    .ws_broadcast(id, &data.as_bytes(), binary.unwrap_or(false))
                {
                    Ok(count) => Ok(MultiValue::from_vec(vec![Value::Integer(count as i64)])),
                    Err(message) => failure(lua, message),
                }
            },
        )?,
    )?;
    Ok(())
}
