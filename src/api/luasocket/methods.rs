//! The Lua methods of the `socket` module's TCP object (`connect`, `send`, `receive`, `accept`,
//! `settimeout`, ...): argument handling and LuaSocket's return conventions over the operations
//! in `tcp.rs`.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use mlua::{
    AnyUserData, Lua, MetaMethod, MultiValue, Result, Table, UserData, UserDataMethods, Value,
};

use super::DEFAULT_BACKLOG;
use super::args::*;
use super::sys::*;
use super::tcp::*;
use crate::api::args::{Args, fail};
use crate::reactor::duration;

impl UserData for Tcp {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_function(MetaMethod::ToString, |_, this: AnyUserData| {
            let kind = this.borrow::<Tcp>()?.kind;
            Ok(format!("tcp{{{}}}: {:p}", kind.name(), this.to_pointer()))
        });
        methods.add_meta_function(MetaMethod::Close, |_, this: AnyUserData| {
            this.borrow_mut::<Tcp>()?.close();
            Ok(())
        });

        // The methods come from one table of functions wrapped by `plua.checks.wrap` (see
        // `method_table`), so their argument errors are plain messages at the script's line.
        methods.add_meta_function(
            MetaMethod::Index,
            |lua, (_this, key): (AnyUserData, Value)| method_table(lua)?.raw_get::<Value>(key),
        );
    }
}

/// The TCP object's methods, built once per Lua state.
struct MethodTable(Table);

/// The table of the TCP object's methods.
fn method_table(lua: &Lua) -> Result<Table> {
    if let Some(methods) = lua.app_data_ref::<MethodTable>() {
        return Ok(methods.0.clone());
    }
    let table = lua.create_table()?;
    add_all(lua, &table)?;
    lua.set_app_data(MethodTable(table.clone()));
    Ok(table)
}

/// Adds every method to `table`.
fn add_all(lua: &Lua, table: &Table) -> Result<()> {
    method(
        lua,
        table,
        "tcp:connect",
        Accept::MasterOrClient,
        |lua, tcp, args| {
            let host = args.text(1)?;
            let port = port_arg(&args, 2)?;
            match tcp.connect(&host, port) {
                Ok(()) => one(),
                Err(failure) => fail(lua, failure.message()),
            }
        },
    )?;
    method(
        lua,
        table,
        "tcp:bind",
        Accept::Only(Kind::Master),
        |lua, tcp, args| {
            let host = args.text(1)?;
            let port = port_arg(&args, 2)?;
            match tcp.bind(&host, port) {
                Ok(()) => one(),
                Err(failure) => fail(lua, failure.message()),
            }
        },
    )?;
    method(
        lua,
        table,
        "tcp:listen",
        Accept::Only(Kind::Master),
        |lua, tcp, args| {
            let backlog = opt_integer(&args, 1)?.unwrap_or(DEFAULT_BACKLOG);
            match tcp.listen(backlog) {
                Ok(()) => one(),
                Err(failure) => fail(lua, failure.message()),
            }
        },
    )?;
    method(
        lua,
        table,
        "tcp:accept",
        Accept::Only(Kind::Server),
        |lua, tcp, _args| match tcp.accept() {
            Ok(client) => Ok(MultiValue::from_vec(vec![Value::UserData(
                lua.create_userdata(client)?,
            )])),
            Err(failure) => fail(lua, failure.message()),
        },
    )?;
    method(
        lua,
        table,
        "tcp:send",
        Accept::Only(Kind::Client),
        |lua, tcp, args| {
            let data = args.string(1)?;
            let bytes = data.as_bytes();
            let size = bytes.len() as i64;
            let mut start = opt_integer(&args, 2)?.unwrap_or(1);
            let mut end = opt_integer(&args, 3)?.unwrap_or(-1);
            if start < 0 {
                start = size.saturating_add(start).saturating_add(1);
            }
            if end < 0 {
                end = size.saturating_add(end).saturating_add(1);
            }
            start = start.max(1);
            end = end.min(size);
            let (sent, failure) = if start <= end {
                let deadline = tcp.deadline();
                tcp.send_all(&bytes[(start - 1) as usize..end as usize], &deadline)
            } else {
                (0, None)
            };
            let last = Value::Integer(sent as i64 + start - 1);
            match failure {
                None => Ok(MultiValue::from_vec(vec![last])),
                Some(failure) => Ok(MultiValue::from_vec(vec![
                    Value::Nil,
                    Value::String(lua.create_string(failure.message())?),
                    last,
                ])),
            }
        },
    )?;
    method(
        lua,
        table,
        "tcp:receive",
        Accept::Only(Kind::Client),
        |lua, tcp, args| {
            let pattern = pattern_arg(&args, 1)?;
            let prefix = args.opt_string(2)?;
            let (data, failure) = receive(tcp, pattern);
            let mut out = prefix.map(|p| p.as_bytes().to_vec()).unwrap_or_default();
            out.extend_from_slice(&data);
            let out = Value::String(lua.create_string(&out)?);
            match failure {
                None => Ok(MultiValue::from_vec(vec![out])),
                Some(failure) => Ok(MultiValue::from_vec(vec![
                    Value::Nil,
                    Value::String(lua.create_string(failure.message())?),
                    out,
                ])),
            }
        },
    )?;
    method(lua, table, "tcp:settimeout", Accept::Any, |_, tcp, args| {
        let value = opt_number(&args, 1)?;
        let limit = value.and_then(duration::from_secs);
        let mode = args.opt_text(2)?.unwrap_or_else(|| "b".into());
        match mode.as_bytes().first() {
            Some(b'b' | b'r') => tcp.block = limit,
            Some(b't') => tcp.total = limit,
            _ => {
                return Err(args.error(format!(
                    "bad argument #2 (timeout mode 'b' or 't' expected, got '{mode}')"
                )));
            }
        }
        one()
    })?;
    method(
        lua,
        table,
        "tcp:gettimeout",
        Accept::Any,
        |_, tcp, _args| {
            let secs = |d: Option<Duration>| Value::Number(d.map_or(-1.0, |d| d.as_secs_f64()));
            Ok(MultiValue::from_vec(vec![secs(tcp.block), secs(tcp.total)]))
        },
    )?;
    method(lua, table, "tcp:close", Accept::Any, |_, tcp, _args| {
        tcp.close();
        one()
    })?;
    method(
        lua,
        table,
        "tcp:shutdown",
        Accept::Only(Kind::Client),
        |_, tcp, args| {
            let how = match args.opt_text(1)?.as_deref() {
                None | Some("both") => libc::SHUT_RDWR,
                Some("send") => libc::SHUT_WR,
                Some("receive") => libc::SHUT_RD,
                Some(other) => {
                    return Err(args.error(format!(
                        "bad argument #1 (shutdown method 'both', 'send' or 'receive' \
                         expected, got '{other}')"
                    )));
                }
            };
            if let Ok(fd) = tcp.raw() {
                // SAFETY: plain system call on an owned descriptor; errors are ignored, as
                // LuaSocket ignores them.
                unsafe { libc::shutdown(fd, how) };
            }
            one()
        },
    )?;
    method(
        lua,
        table,
        "tcp:getpeername",
        Accept::Any,
        |lua, tcp, _args| address_result(lua, tcp.raw().and_then(|fd| socket_address(fd, true))),
    )?;
    method(
        lua,
        table,
        "tcp:getsockname",
        Accept::Any,
        |lua, tcp, _args| address_result(lua, tcp.raw().and_then(|fd| socket_address(fd, false))),
    )?;
    method(
        lua,
        table,
        "tcp:setoption",
        Accept::Any,
        |lua, tcp, args| {
            let name = args.text(1)?;
            let Some(index) = OPTIONS.iter().position(|(option, _, _)| *option == name) else {
                return fail(lua, "unsupported option");
            };
            let on = match args.value(2) {
                Value::Boolean(on) => on,
                other => {
                    return Err(args.error(format!(
                        "bad argument #2 (boolean expected, got {})",
                        other.type_name()
                    )));
                }
            };
            let (_, level, option) = OPTIONS[index];
            match &tcp.fd {
                Some(fd) => match set_flag(fd.as_raw_fd(), level, option, on) {
                    Ok(()) => one(),
                    Err(failure) => fail(lua, failure.message()),
                },
                None => {
                    tcp.pending.retain(|(pending, _)| *pending != index);
                    tcp.pending.push((index, on));
                    one()
                }
            }
        },
    )?;
    method(
        lua,
        table,
        "tcp:getoption",
        Accept::Any,
        |lua, tcp, args| {
            let name = args.text(1)?;
            let Some(index) = OPTIONS.iter().position(|(option, _, _)| *option == name) else {
                return fail(lua, "unsupported option");
            };
            let (_, level, option) = OPTIONS[index];
            let on = match &tcp.fd {
                Some(fd) => match get_int(fd.as_raw_fd(), level, option) {
                    Ok(value) => value != 0,
                    Err(failure) => return fail(lua, failure.message()),
                },
                None => tcp
                    .pending
                    .iter()
                    .find(|(pending, _)| *pending == index)
                    .is_some_and(|(_, on)| *on),
            };
            Ok(MultiValue::from_vec(vec![Value::Boolean(on)]))
        },
    )?;
    method(lua, table, "tcp:dirty", Accept::Any, |_, tcp, _args| {
        Ok(MultiValue::from_vec(vec![Value::Boolean(
            !tcp.buffered().is_empty(),
        )]))
    })?;
    method(lua, table, "tcp:getfd", Accept::Any, |_, tcp, _args| {
        let fd = tcp.raw().map_or(-1, i64::from);
        Ok(MultiValue::from_vec(vec![Value::Integer(fd)]))
    })?;
    Ok(())
}

/// Adds `tcp:name` to `table` as a method taking the object and the checked [`Args`] after it
/// (numbered from 1, as the caller of `sock:name(...)` counts them).
pub(super) fn method<F>(
    lua: &Lua,
    table: &Table,
    name: &'static str,
    accept: Accept,
    f: F,
) -> Result<()>
where
    F: Fn(&Lua, &mut Tcp, Args) -> Result<MultiValue> + 'static,
{
    let key = name.strip_prefix("tcp:").unwrap_or(name);
    let function = lua.create_function(move |lua, values: MultiValue| {
        let mut values = values.into_vec();
        let this = if values.is_empty() {
            Value::Nil
        } else {
            values.remove(0)
        };
        let args = Args::new(lua, name, MultiValue::from_vec(values));
        let bad_self = |got: &str| {
            args.error(format!(
                "calling on bad self ({} expected, got {got})",
                accept.expected()
            ))
        };
        let ud = match &this {
            Value::UserData(ud) if ud.is::<Tcp>() => ud,
            other => return Err(bad_self(other.type_name())),
        };
        let mut tcp = ud.borrow_mut::<Tcp>()?;
        if !accept.allows(tcp.kind) {
            return Err(bad_self(&format!("tcp{{{}}}", tcp.kind.name())));
        }
        f(lua, &mut tcp, args)
    })?;
    table.raw_set(key, crate::api::args::wrapped(lua, name, function)?)
}

pub(super) fn one() -> Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![Value::Integer(1)]))
}

/// `ip, port, family` or `nil, message`.
pub(super) fn address_result(lua: &Lua, addr: Outcome<SocketAddr>) -> Result<MultiValue> {
    match addr {
        Ok(addr) => {
            let family = if addr.is_ipv4() { "inet" } else { "inet6" };
            Ok(MultiValue::from_vec(vec![
                Value::String(lua.create_string(addr.ip().to_string())?),
                Value::Integer(i64::from(addr.port())),
                Value::String(lua.create_string(family)?),
            ]))
        }
        Err(failure) => fail(lua, failure.message()),
    }
}
