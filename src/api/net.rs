//! The Rust primitives behind the socket functions. `lua_stdlib/plua/sockets.lua` builds the
//! `_PY` TCP/UDP/server families on them (argument checks, callbacks, waiting); here each
//! primitive starts an operation on the reactor and returns its operation id, or answers at once
//! for the few that need no I/O. Results come back as completions through the runtime.

use std::net::SocketAddr;

use mlua::{Function, Lua, LuaString, MultiValue, Result, Table, Value};

use crate::api::args::failure;
use crate::event::{NetEvent, Val};
use crate::lua::values::to_lua_multi;
use crate::net::reads::InputLimits;
use crate::net::resolve;
use crate::net::server::ServerMode;
use crate::net::tcp::{DEFAULT_READ_MAX, ReadKind};
use crate::net::tls;
use crate::net::tls::TlsOptions;
use crate::reactor::duration;
use crate::sockets::SharedReactor;
use crate::sockets::{ConnectOptions, Net, NetContext};

fn port_of(port: i64) -> Result<u16> {
    u16::try_from(port)
        .map_err(|_| mlua::Error::runtime(format!("port {port} is out of range (0-65535)")))
}

fn seconds(value: Option<f64>) -> Option<f64> {
    value.filter(|s| s.is_finite() && *s >= 0.0)
}

/// A connection's input bounds from an options table: `max_input` (bytes held before reading
/// pauses), `max_line` (longest line or delimited record), `max_read` (largest `*a` or exact
/// read), each a positive whole number of bytes; absent ones keep their defaults.
fn input_limits(opts: &Table) -> Result<InputLimits> {
    let mut limits = InputLimits::default();
    for (key, slot) in [
        ("max_input", &mut limits.input),
        ("max_line", &mut limits.line),
        ("max_read", &mut limits.read),
    ] {
        if let Some(bytes) = opts.get::<Option<f64>>(key)? {
            if !(bytes >= 1.0 && bytes.fract() == 0.0 && bytes <= usize::MAX as f64) {
                return Err(mlua::Error::runtime(format!(
                    "option '{key}': a positive whole number of bytes expected, got {bytes}"
                )));
            }
            *slot = bytes as usize;
        }
    }
    Ok(limits)
}

/// An address for UDP: a literal IP or `localhost` (names were looked up on the worker pool
/// before, through `core.resolve`).
fn udp_address(host: &str, port: u16) -> std::result::Result<SocketAddr, String> {
    resolve::literal(host, port).ok_or_else(|| format!("'{host}' is not an IP address"))
}

/// Adds the socket primitives to `core`.
pub fn register(lua: &Lua, core: &Table, reactor: &SharedReactor) -> Result<()> {
    let r = reactor.clone();
    core.set(
        "tcp_connect",
        lua.create_function(move |_, (host, port, opts): (String, i64, Option<Table>)| {
            let port = port_of(port)?;
            let mut options = ConnectOptions::default();
            if let Some(opts) = opts {
                options.limits = input_limits(&opts)?;
                options.timeout = seconds(opts.get("timeout")?);
                if opts.get::<Option<bool>>("tls")?.unwrap_or(false) {
                    options.tls = Some(TlsOptions {
                        verify: opts.get::<Option<bool>>("verify")?.unwrap_or(true),
                        server_name: opts.get("servername")?,
                        ca_file: opts.get("cafile")?,
                    });
                }
            }
            Ok(start_op(&r, |net, ctx, op| {
                net.connect(ctx, &host, port, options, op);
            }))
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "tcp_write",
        // `quiet`: nobody waits for the result (an async write without a callback), so no
        // completion is queued for it; an error still closes the connection.
        lua.create_function(
            move |_, (id, data, quiet): (u64, LuaString, Option<bool>)| {
                let quiet = quiet.unwrap_or(false);
                Ok(start_op(&r, |net, ctx, op| {
                    net.write(ctx, id, &data.as_bytes(), (!quiet).then_some(op))
                }))
            },
        )?,
    )?;

    let r = reactor.clone();
    core.set(
        "tcp_write_function",
        lua.create_function(move |lua, slow: Function| {
            super::tcp_write::tcp_write_function(lua, &r, slow)
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "tcp_read",
        lua.create_function(
            move |_,
                  (id, kind, n, delimiter, timeout): (
                u64,
                String,
                Option<i64>,
                Option<LuaString>,
                Option<f64>,
            )| {
                let size = n.map(|n| n.max(0) as usize);
                let kind = match kind.as_str() {
                    "line" => ReadKind::Line,
                    "all" => ReadKind::All,
                    "exact" => ReadKind::Exact(size.unwrap_or(0)),
                    "until" => ReadKind::Until {
                        delimiter: delimiter.map(|d| d.as_bytes().to_vec()).unwrap_or_default(),
                        max: size.unwrap_or(DEFAULT_READ_MAX),
                    },
                    _ => ReadKind::Max(size.unwrap_or(DEFAULT_READ_MAX)),
                };
                Ok(start_op(&r, |net, ctx, op| {
                    net.read(ctx, id, kind, seconds(timeout), op)
                }))
            },
        )?,
    )?;

    let r = reactor.clone();
    core.set(
        "tcp_close",
        lua.create_function(move |_, id: u64| {
            Ok(start_op(&r, |net, ctx, op| net.close(ctx, id, Some(op))))
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "set_timeout",
        lua.create_function(move |_, (id, timeout): (u64, Option<f64>)| {
            Ok(r.borrow_mut().net.set_timeout(id, seconds(timeout)))
        })?,
    )?;
    let r = reactor.clone();
    core.set(
        "get_timeout",
        lua.create_function(move |_, id: u64| {
            Ok(match r.borrow().net.timeout(id) {
                Some(timeout) => (true, timeout),
                None => (false, None),
            })
        })?,
    )?;

    // What is open, by kind, for the original's `has_active_*_operations`.
    let r = reactor.clone();
    core.set(
        "net_activity",
        lua.create_function(move |lua, ()| {
            let activity = r.borrow().net.activity();
            let counts = lua.create_table()?;
            counts.set("tcp", activity.tcp)?;
            counts.set("udp", activity.udp)?;
            counts.set("tcp_servers", activity.tcp_servers)?;
            counts.set("websocket", activity.websocket)?;
            counts.set("websocket_servers", activity.websocket_servers)?;
            counts.set("http", activity.http)?;
            Ok(counts)
        })?,
    )?;
    let r = reactor.clone();
    core.set(
        "server_listening",
        lua.create_function(move |_, id: u64| Ok(r.borrow().net.server_listening(id)))?,
    )?;

    let r = reactor.clone();
    core.set(
        "server_create",
        lua.create_function(move |_, queue: bool| {
            let mode = if queue {
                ServerMode::Queue
            } else {
                ServerMode::Events
            };
            let mut reactor = r.borrow_mut();
            let (net, mut ctx) = reactor.net();
            Ok(net.server_create(&mut ctx, mode))
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "server_start",
        lua.create_function(
            move |lua,
                  (id, host, port, cert, key, opts): (
                u64,
                String,
                i64,
                Option<String>,
                Option<String>,
                Option<Table>,
            )| {
                let port = port_of(port)?;
                let limits = match &opts {
                    Some(opts) => input_limits(opts)?,
                    None => InputLimits::default(),
                };
                let max_connections = match &opts {
                    Some(opts) => opts
                        .get::<Option<f64>>("max_connections")?
                        .filter(|max| *max >= 1.0)
                        .map(|max| max.min(usize::MAX as f64) as usize),
                    None => None,
                };
                let tls = match (cert, key) {
                    (Some(cert), Some(key)) => {
                        match tls::server_config(
                            std::path::Path::new(&cert),
                            std::path::Path::new(&key),
                        ) {
                            Ok(config) => Some(config),
                            Err(error) => return failure(lua, error.to_string()),
                        }
                    }
                    _ => None,
                };
                let mut reactor = r.borrow_mut();
                let (net, _) = reactor.net();
                match net.server_start(
                    id,
                    &host,
                    port,
                    crate::sockets::TcpServerOptions {
                        tls,
                        limits,
                        max_connections,
                    },
                ) {
                    Ok(address) => Ok(MultiValue::from_vec(vec![
                        Value::Boolean(true),
                        Value::String(lua.create_string(format!("Listening on {address}"))?),
                        Value::Integer(i64::from(address.port())),
                    ])),
                    Err(message) => failure(lua, message),
                }
            },
        )?,
    )?;

    let r = reactor.clone();
    core.set(
        "server_emit_data",
        lua.create_function(move |_, id: u64| {
            r.borrow_mut().net.server_emit_data(id);
            Ok(())
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "server_close",
        lua.create_function(move |_, id: u64| {
            let mut reactor = r.borrow_mut();
            let (net, mut ctx) = reactor.net();
            Ok(net.server_close(&mut ctx, id))
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "server_accept",
        lua.create_function(move |_, (id, timeout): (u64, Option<f64>)| {
            Ok(start_op(&r, |net, ctx, op| {
                net.accept(ctx, id, seconds(timeout), op)
            }))
        })?,
    )?;

    // `resolve(host)`: the IP of a literal address (or `localhost`) at once; for a name, `nil`
    // and an operation that completes with `(true, ip, msg)` or `(false, nil, message)` once
    // the worker pool has looked it up.
    let r = reactor.clone();
    core.set(
        "resolve",
        lua.create_function(move |lua, host: String| {
            if let Some(address) = resolve::literal(&host, 0) {
                let ip = lua.create_string(address.ip().to_string())?;
                return Ok(MultiValue::from_vec(vec![Value::String(ip)]));
            }
            let op = start_op(&r, |net, ctx, op| net.lookup(ctx, &host, 0, op));
            Ok(MultiValue::from_vec(vec![
                Value::Nil,
                Value::Integer(op as i64),
            ]))
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "new_op",
        lua.create_function(move |_, ()| Ok(r.borrow_mut().ids.next_id()))?,
    )?;
    // Completes operation `op` with no values on the next turn (wakes whoever awaits it).
    let r = reactor.clone();
    core.set(
        "post",
        lua.create_function(move |_, op: u64| {
            r.borrow_mut().net.events.push_back(NetEvent::Complete {
                op,
                values: Vec::new(),
            });
            Ok(())
        })?,
    )?;

    register_udp(lua, core, reactor)?;
    crate::report::register(lua, core)?;
    crate::api::http::register(lua, core, reactor)?;
    crate::api::http_stream::register(lua, core, reactor)?;
    crate::api::websocket::register(lua, core, reactor)?;

    let r = reactor.clone();
    core.set(
        "block_on",
        lua.create_function(move |lua, (op, timeout): (u64, Option<f64>)| {
            crate::api::output::flush_stdout();
            let limit = timeout.and_then(duration::from_secs);
            let finished = r.borrow_mut().block_on(op, limit);
            match finished {
                Some(NetEvent::Complete { values, .. }) => to_lua_multi(lua, values),
                _ => {
                    r.borrow_mut().net.cancel(op);
                    // The shape every sync form documents: (false, nil, message).
                    to_lua_multi(
                        lua,
                        vec![Val::Bool(false), Val::Nil, Val::Text("timeout".into())],
                    )
                }
            }
        })?,
    )?;
    Ok(())
}

/// `udp_open(bind_host, bind_port, peer_host, peer_port, broadcast, timeout)`.
type UdpOpenArgs = (
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    bool,
    Option<f64>,
);

fn register_udp(lua: &Lua, core: &Table, reactor: &SharedReactor) -> Result<()> {
    let r = reactor.clone();
    core.set(
        "udp_open",
        lua.create_function(
            move |lua, (bind_host, bind_port, peer_host, peer_port, broadcast, timeout): UdpOpenArgs| {
                let peer = match (peer_host, peer_port) {
                    (Some(host), Some(port)) => match udp_address(&host, port_of(port)?) {
                        Ok(address) => Some(address),
                        Err(message) => return failure(lua, message),
                    },
                    _ => None,
                };
                // Bound only (a receiver): loopback unless the script names an address. Connected
                // to a peer: the wildcard, which connect(2) narrows to the route's own address,
                // and only the peer's datagrams are accepted.
                let default_bind = match peer {
                    Some(peer) if peer.is_ipv6() => "::",
                    Some(_) => "0.0.0.0",
                    None => "127.0.0.1",
                };
                let bind_host = bind_host.unwrap_or_else(|| default_bind.into());
                let bind = match udp_address(&bind_host, port_of(bind_port.unwrap_or(0))?) {
                    Ok(address) => address,
                    Err(message) => return failure(lua, message),
                };
                let mut reactor = r.borrow_mut();
                let (net, mut ctx) = reactor.net();
                match net.udp_open(&mut ctx, bind, peer, broadcast, seconds(timeout)) {
                    Ok((id, local)) => Ok(MultiValue::from_vec(vec![
                        Value::Integer(id as i64),
                        Value::String(lua.create_string(local.ip().to_string())?),
                        Value::Integer(i64::from(local.port())),
                    ])),
                    Err(message) => failure(lua, message),
                }
            },
        )?,
    )?;

    // `udp_source(ip)`: the local address datagrams to `ip` leave from (the route's source, as
    // connect(2) picks it; nothing is sent), or nil. A socket that is first used to send binds
    // there rather than to every interface.
    core.set(
        "udp_source",
        lua.create_function(|_, ip: String| Ok(route_source(&ip)))?,
    )?;

    let r = reactor.clone();
    core.set(
        "udp_send",
        lua.create_function(
            move |_, (id, data, host, port): (u64, LuaString, Option<String>, Option<i64>)| {
                let to = match (host, port) {
                    (Some(host), Some(port)) => Some((host, port_of(port)?)),
                    _ => None,
                };
                let data = data.as_bytes().to_vec();
                let op = start_op(&r, |net, ctx, op| match to {
                    Some((host, port)) => net.udp_send_to_host(ctx, id, data, &host, port, op),
                    None => net.udp_send(ctx, id, data, None, op),
                });
                Ok(MultiValue::from_vec(vec![Value::Integer(op as i64)]))
            },
        )?,
    )?;

    let r = reactor.clone();
    core.set(
        "udp_receive",
        lua.create_function(move |_, (id, max): (u64, Option<i64>)| {
            let max = max.map_or(65_536, |m| m.max(1) as usize);
            Ok(start_op(&r, |net, ctx, op| {
                net.udp_receive(ctx, id, max, op)
            }))
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "udp_close",
        lua.create_function(move |_, id: u64| {
            let mut reactor = r.borrow_mut();
            let (net, mut ctx) = reactor.net();
            Ok(net.udp_close(&mut ctx, id))
        })?,
    )?;
    Ok(())
}

/// The local IP that datagrams to literal address `ip` leave from, if there is a route.
fn route_source(ip: &str) -> Option<String> {
    let target = resolve::literal(ip, 9)?;
    let any: SocketAddr = if target.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let probe = std::net::UdpSocket::bind(any).ok()?;
    // Broadcast destinations need SO_BROADCAST even to connect.
    probe.set_broadcast(true).ok()?;
    probe.connect(target).ok()?;
    probe.local_addr().ok().map(|local| local.ip().to_string())
}

/// Starts an operation with a fresh id on the socket table; returns the id.
fn start_op(reactor: &SharedReactor, start: impl FnOnce(&mut Net, &mut NetContext, u64)) -> u64 {
    let mut reactor = reactor.borrow_mut();
    let op = reactor.ids.next_id();
    let (net, mut ctx) = reactor.net();
    start(net, &mut ctx, op);
    op
}
