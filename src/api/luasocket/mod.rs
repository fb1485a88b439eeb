//! `require("socket")`: a blocking, LuaSocket-compatible subset on plain sockets (SPEC §6).
//!
//! Everything here blocks the calling thread, deliberately: debuggers call it from a debug hook,
//! where nothing may yield, and LuaSocket-style scripts expect blocking calls. The event loop is
//! not involved. [`register`] installs `package.preload["socket.core"]`; the embedded
//! `lua_stdlib/socket.lua` requires it and adds the Lua-level conveniences (`socket.connect`,
//! `socket.bind`, `socket.try`, `socket.protect`, ...), as LuaSocket's own `socket.lua` does.
//!
//! Sockets are non-blocking file descriptors underneath; every wait is a `poll(2)` bounded by the
//! object's timeout, so `settimeout(0)` is a poll and `settimeout(nil)` blocks. Results follow
//! LuaSocket 3.0: `1` or data on success, `nil, message[, partial]` on failure, with the messages
//! `"timeout"`, `"closed"`, `"connection refused"`, `"host not found"`, ... A poll interrupted by a
//! signal (plua catches SIGINT and SIGTERM) fails with `"interrupted"`, so Ctrl-C is not lost
//! while a script waits on a socket. Data is bytes throughout; no UTF-8 conversion happens.

mod args;
mod methods;
mod sys;
mod tcp;

use std::os::fd::RawFd;
use std::time::Duration;

use mlua::{Lua, MultiValue, ObjectLike, Result, Table, Value};

use crate::api::args::{Args, fail};
use crate::api::system::unix_time;
use crate::reactor::duration;
use args::*;
use sys::*;
use tcp::*;

/// Bytes asked of the kernel per `recv`.
pub(crate) const CHUNK: usize = 64 * 1024;
/// `listen` backlog when none is given (LuaSocket's default).
pub(crate) const DEFAULT_BACKLOG: i64 = 32;

/// Registers a module function reading its arguments through [`Args`].
fn function<F>(lua: &Lua, table: &Table, name: &'static str, f: F) -> Result<()>
where
    F: Fn(&Lua, Args) -> Result<MultiValue> + 'static,
{
    let key = name.strip_prefix("socket.").unwrap_or(name);
    let key = key.rsplit('.').next().unwrap_or(key);
    let function =
        lua.create_function(move |lua, values: MultiValue| f(lua, Args::new(lua, name, values)))?;
    table.set(key, crate::api::args::wrapped(lua, name, function)?)
}

/// One entry of a `socket.select` set: the object and what to poll.
struct Entry {
    object: Value,
    fd: RawFd,
    dirty: bool,
}

/// The descriptor and "has buffered data" of a `select` set member: a plua socket, or any
/// object with LuaSocket's `getfd`/`dirty` methods. `None` for closed or foreign objects.
fn entry(value: Value) -> Result<Option<Entry>> {
    if let Value::UserData(ud) = &value
        && let Ok(tcp) = ud.borrow::<Tcp>()
    {
        let (fd, dirty) = match tcp.raw() {
            Ok(fd) => (fd, !tcp.buffered().is_empty()),
            Err(_) => return Ok(None),
        };
        drop(tcp);
        return Ok(Some(Entry {
            object: value,
            fd,
            dirty,
        }));
    }
    let call = |name: &str| -> Result<Value> {
        let method: Value = match &value {
            Value::Table(t) => t.get(name)?,
            Value::UserData(ud) => ud.get(name).unwrap_or(Value::Nil),
            _ => Value::Nil,
        };
        match method {
            Value::Function(f) => f.call(&value),
            _ => Ok(Value::Nil),
        }
    };
    let fd = match call("getfd")? {
        Value::Integer(fd) => fd,
        Value::Number(fd) => fd as i64,
        _ => return Ok(None),
    };
    let Ok(fd) = RawFd::try_from(fd) else {
        return Ok(None);
    };
    if fd < 0 {
        return Ok(None);
    }
    let dirty = matches!(call("dirty")?, Value::Boolean(true));
    Ok(Some(Entry {
        object: value,
        fd,
        dirty,
    }))
}

fn entries(args: &Args, index: usize) -> Result<Vec<Entry>> {
    match args.value(index) {
        Value::Nil => Ok(Vec::new()),
        Value::Table(t) => {
            let mut out = Vec::new();
            for value in t.sequence_values::<Value>() {
                if let Some(entry) = entry(value?)? {
                    out.push(entry);
                }
            }
            Ok(out)
        }
        _ => Err(bad(args, index, "table")),
    }
}

/// A result set of `select`: `t[i] = sock` and `t[sock] = i`.
fn ready_set(lua: &Lua, ready: Vec<Value>) -> Result<Table> {
    let table = lua.create_table()?;
    for (i, object) in ready.into_iter().enumerate() {
        table.raw_set(i + 1, &object)?;
        table.raw_set(object, i + 1)?;
    }
    Ok(table)
}

/// `socket.select(recvt, sendt[, timeout])`.
fn select(lua: &Lua, args: Args) -> Result<MultiValue> {
    let recv = entries(&args, 1)?;
    let send = entries(&args, 2)?;
    let timeout = opt_number(&args, 3)?;
    let any_dirty = recv.iter().any(|e| e.dirty);
    let limit = if any_dirty {
        Some(Duration::ZERO)
    } else {
        timeout.and_then(duration::from_secs)
    };
    let mut pfds: Vec<libc::pollfd> = recv
        .iter()
        .map(|e| (e.fd, libc::POLLIN))
        .chain(send.iter().map(|e| (e.fd, libc::POLLOUT)))
        .map(|(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    // SAFETY: pfds is a valid array of pfds.len() pollfds.
    let n = unsafe {
        libc::poll(
            pfds.as_mut_ptr(),
            pfds.len() as libc::nfds_t,
            poll_millis(limit),
        )
    };
    if n < 0 {
        let failure = Failure::last_os();
        return Ok(MultiValue::from_vec(vec![
            Value::Table(lua.create_table()?),
            Value::Table(lua.create_table()?),
            Value::String(lua.create_string(failure.message())?),
        ]));
    }
    let readable_mask = libc::POLLIN | libc::POLLHUP | libc::POLLERR;
    let writable_mask = libc::POLLOUT | libc::POLLHUP | libc::POLLERR;
    let (recv_fds, send_fds) = pfds.split_at(recv.len());
    let readable: Vec<Value> = recv
        .into_iter()
        .zip(recv_fds)
        .filter(|(e, p)| e.dirty || (n > 0 && p.revents & readable_mask != 0))
        .map(|(e, _)| e.object)
        .collect();
    let writable: Vec<Value> = send
        .into_iter()
        .zip(send_fds)
        .filter(|(_, p)| n > 0 && p.revents & writable_mask != 0)
        .map(|(e, _)| e.object)
        .collect();
    let timed_out = readable.is_empty() && writable.is_empty();
    let mut out = vec![
        Value::Table(ready_set(lua, readable)?),
        Value::Table(ready_set(lua, writable)?),
    ];
    if timed_out {
        out.push(Value::String(lua.create_string("timeout")?));
    }
    Ok(MultiValue::from_vec(out))
}

/// `socket.sleep(seconds)`: ends early only when a signal arrives.
fn sleep(args: &Args) -> Result<()> {
    let Some(seconds) = opt_number(args, 1)? else {
        return Err(bad(args, 1, "number"));
    };
    let Some(pause) = duration::from_secs(seconds).filter(|d| !d.is_zero()) else {
        return Ok(());
    };
    let spec = libc::timespec {
        tv_sec: libc::time_t::try_from(pause.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(pause.subsec_nanos() as i32),
    };
    // SAFETY: spec is a valid timespec; the remainder pointer may be null.
    unsafe { libc::nanosleep(&spec, std::ptr::null_mut()) };
    Ok(())
}

/// The `socket.core` table.
fn core(lua: &Lua) -> Result<Table> {
    let core = lua.create_table()?;
    core.set("_VERSION", "LuaSocket 3.0.0")?;
    core.set("_SETSIZE", 1024)?;
    for (name, family) in [
        ("socket.tcp", None),
        ("socket.tcp4", Some(libc::AF_INET)),
        ("socket.tcp6", Some(libc::AF_INET6)),
    ] {
        function(lua, &core, name, move |lua, _args| {
            let tcp = lua.create_userdata(Tcp::new(Kind::Master, None, family))?;
            Ok(MultiValue::from_vec(vec![Value::UserData(tcp)]))
        })?;
    }
    function(lua, &core, "socket.gettime", |_, _args| {
        Ok(MultiValue::from_vec(vec![Value::Number(unix_time())]))
    })?;
    function(lua, &core, "socket.sleep", |_, args| {
        sleep(&args)?;
        Ok(MultiValue::new())
    })?;
    function(lua, &core, "socket.select", select)?;

    let dns = lua.create_table()?;
    function(lua, &dns, "socket.dns.gethostname", |lua, _args| {
        let mut buf = [0u8; 256];
        // SAFETY: buf is valid for its length; gethostname NUL-terminates within it on success.
        if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
            return fail(lua, Failure::last_os().message());
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        Ok(MultiValue::from_vec(vec![Value::String(
            lua.create_string(&buf[..end])?,
        )]))
    })?;
    function(lua, &dns, "socket.dns.toip", |lua, args| {
        let host = args.text(1)?;
        let addrs = match resolve(&host, 0, None) {
            Ok(addrs) => addrs,
            Err(failure) => return fail(lua, failure.message()),
        };
        let mut ips: Vec<String> = Vec::new();
        for addr in &addrs {
            let ip = addr.ip().to_string();
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        let info = lua.create_table()?;
        info.set("name", host.as_str())?;
        info.set("alias", lua.create_table()?)?;
        info.set(
            "ip",
            lua.create_sequence_from(ips.iter().map(String::as_str))?,
        )?;
        let first = ips.first().cloned().unwrap_or_default();
        Ok(MultiValue::from_vec(vec![
            Value::String(lua.create_string(first)?),
            Value::Table(info),
        ]))
    })?;
    core.set("dns", dns)?;
    Ok(core)
}

/// Installs `package.preload["socket.core"]`, so `require("socket")` (the embedded
/// `lua_stdlib/socket.lua`) and `require("socket.core")` work.
pub fn register(lua: &Lua) -> Result<()> {
    let package: Table = lua.globals().get("package")?;
    let preload: Table = package.get("preload")?;
    preload.set(
        "socket.core",
        lua.create_function(|lua, _: MultiValue| core(lua))?,
    )
}
