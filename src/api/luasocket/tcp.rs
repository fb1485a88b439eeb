//! The `tcp{master|client|server}` object of the `socket` module and its methods.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use mlua::{AnyUserData, Lua, MetaMethod, MultiValue, Result, UserData, UserDataMethods, Value};

use super::sys::*;
use super::{CHUNK, DEFAULT_BACKLOG};
use crate::api::args::{Args, fail};

/// The LuaSocket class of a TCP object: fresh, connected, or listening.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    Master,
    Client,
    Server,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Master => "master",
            Kind::Client => "client",
            Kind::Server => "server",
        }
    }
}

/// Which classes a method accepts.
#[derive(Clone, Copy)]
pub(super) enum Accept {
    Any,
    Only(Kind),
    MasterOrClient,
}

impl Accept {
    pub(super) fn allows(self, kind: Kind) -> bool {
        match self {
            Accept::Any => true,
            Accept::Only(only) => only == kind,
            Accept::MasterOrClient => kind != Kind::Server,
        }
    }

    pub(super) fn expected(self) -> &'static str {
        match self {
            Accept::Any | Accept::MasterOrClient => "tcp{any}",
            Accept::Only(Kind::Master) => "tcp{master}",
            Accept::Only(Kind::Client) => "tcp{client}",
            Accept::Only(Kind::Server) => "tcp{server}",
        }
    }
}

/// One TCP object (`tcp{master}`, `tcp{client}` or `tcp{server}`). The descriptor is created
/// lazily by `bind` or `connect`, for the family the address resolves to; dropping the object
/// closes it.
pub struct Tcp {
    kind: Kind,
    fd: Option<OwnedFd>,
    /// Address family `socket.tcp4`/`socket.tcp6` restrict the object to.
    family: Option<libc::c_int>,
    /// A non-blocking `connect` that timed out and may still complete.
    connecting: bool,
    /// Received bytes not yet returned; `buf[pos..]` is pending.
    buf: Vec<u8>,
    pos: usize,
    block: Option<Duration>,
    total: Option<Duration>,
    /// Options set before the descriptor exists, applied when it is created.
    pending: Vec<(usize, bool)>,
}

impl Tcp {
    pub(super) fn new(kind: Kind, fd: Option<OwnedFd>, family: Option<libc::c_int>) -> Tcp {
        Tcp {
            kind,
            fd,
            family,
            connecting: false,
            buf: Vec::new(),
            pos: 0,
            block: None,
            total: None,
            pending: Vec::new(),
        }
    }

    pub(super) fn raw(&self) -> Outcome<RawFd> {
        self.fd
            .as_ref()
            .map(AsRawFd::as_raw_fd)
            .ok_or(Failure::Closed)
    }

    pub(super) fn deadline(&self) -> Deadline {
        Deadline::new(self.block, self.total)
    }

    pub(super) fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Removes and returns the first `n` pending bytes.
    pub(super) fn take(&mut self, n: usize) -> Vec<u8> {
        let end = (self.pos + n).min(self.buf.len());
        let out = self.buf[self.pos..end].to_vec();
        self.pos = end;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        out
    }

    /// A descriptor for `addr`'s family with the pending options applied.
    pub(super) fn create(&mut self, addr: &SocketAddr) -> Outcome<RawFd> {
        let fd = new_socket(family_of(addr))?;
        for &(index, on) in &self.pending {
            let (_, level, option) = OPTIONS[index];
            set_flag(fd.as_raw_fd(), level, option, on)?;
        }
        let raw = fd.as_raw_fd();
        self.fd = Some(fd);
        Ok(raw)
    }

    /// Reads at least one more byte into the buffer.
    pub(super) fn fill(&mut self, deadline: &Deadline) -> Outcome<()> {
        let fd = self.raw()?;
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(CHUNK);
        loop {
            let spare = self.buf.spare_capacity_mut();
            let room = spare.len().min(CHUNK);
            // SAFETY: spare has at least `room` writable bytes; recv writes at most that many.
            let n = unsafe { libc::recv(fd, spare.as_mut_ptr().cast(), room, 0) };
            if n > 0 {
                let len = self.buf.len() + n as usize;
                // SAFETY: recv initialised the n bytes after the old length.
                unsafe { self.buf.set_len(len) };
                return Ok(());
            }
            if n == 0 {
                return Err(Failure::Closed);
            }
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::WouldBlock => wait(fd, libc::POLLIN, deadline.limit())?,
                io::ErrorKind::Interrupted => {}
                _ => return Err(Failure::from_io(&error)),
            }
        }
    }

    /// Sends all of `data`; returns how much went out and why it stopped early.
    pub(super) fn send_all(
        &mut self,
        data: &[u8],
        deadline: &Deadline,
    ) -> (usize, Option<Failure>) {
        let fd = match self.raw() {
            Ok(fd) => fd,
            Err(failure) => return (0, Some(failure)),
        };
        let mut sent = 0;
        while sent < data.len() {
            let rest = &data[sent..];
            // SAFETY: rest is valid for rest.len() bytes; MSG_NOSIGNAL turns SIGPIPE into EPIPE.
            let n = unsafe { libc::send(fd, rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL) };
            if n >= 0 {
                sent += n as usize;
                continue;
            }
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::WouldBlock => {
                    if let Err(failure) = wait(fd, libc::POLLOUT, deadline.limit()) {
                        return (sent, Some(failure));
                    }
                }
                io::ErrorKind::Interrupted => {}
                _ => return (sent, Some(Failure::from_io(&error))),
            }
        }
        (sent, None)
    }

    /// Waits for a started `connect` to finish and reports its result.
    pub(super) fn finish_connect(&mut self, fd: RawFd, deadline: &Deadline) -> Outcome<()> {
        wait(fd, libc::POLLOUT, deadline.limit())?;
        match get_int(fd, libc::SOL_SOCKET, libc::SO_ERROR)? {
            0 => Ok(()),
            code => Err(Failure::from_io(&io::Error::from_raw_os_error(code))),
        }
    }

    /// `connect` to one address; a timeout leaves the attempt pending.
    pub(super) fn connect_to(&mut self, addr: &SocketAddr, deadline: &Deadline) -> Outcome<()> {
        let fd = match self.fd.as_ref() {
            Some(fd) => fd.as_raw_fd(),
            None => self.create(addr)?,
        };
        let (storage, len) = to_sockaddr(addr);
        // SAFETY: storage holds a valid sockaddr of length len.
        let rc =
            unsafe { libc::connect(fd, (&storage as *const libc::sockaddr_storage).cast(), len) };
        let result = if rc == 0 {
            Ok(())
        } else {
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::EINPROGRESS | libc::EINTR) => self.finish_connect(fd, deadline),
                _ => Err(Failure::from_io(&error)),
            }
        };
        match result {
            Ok(()) => {
                self.kind = Kind::Client;
                Ok(())
            }
            Err(Failure::Timeout) => {
                self.kind = Kind::Client;
                self.connecting = true;
                Err(Failure::Timeout)
            }
            Err(failure) => {
                self.fd = None;
                Err(failure)
            }
        }
    }

    pub(super) fn connect(&mut self, host: &str, port: u16) -> Outcome<()> {
        let deadline = self.deadline();
        if self.connecting {
            let fd = self.raw()?;
            return match self.finish_connect(fd, &deadline) {
                Ok(()) => {
                    self.connecting = false;
                    Ok(())
                }
                Err(Failure::Timeout) => Err(Failure::Timeout),
                Err(failure) => {
                    self.connecting = false;
                    self.kind = Kind::Master;
                    self.fd = None;
                    Err(failure)
                }
            };
        }
        if self.kind == Kind::Client {
            return Err(match self.fd {
                Some(_) => Failure::Other("already connected".into()),
                None => Failure::Closed,
            });
        }
        let bound_family = match &self.fd {
            Some(fd) => Some(family_of(&socket_address(fd.as_raw_fd(), false)?)),
            None => self.family,
        };
        let mut last = Failure::Other("host not found".into());
        for addr in resolve(host, port, bound_family)? {
            match self.connect_to(&addr, &deadline) {
                Ok(()) => return Ok(()),
                Err(Failure::Timeout) => return Err(Failure::Timeout),
                Err(failure) => last = failure,
            }
        }
        Err(last)
    }

    pub(super) fn bind(&mut self, host: &str, port: u16) -> Outcome<()> {
        if self.fd.is_some() {
            return Err(Failure::Other("already bound".into()));
        }
        let mut last = Failure::Other("host not found".into());
        for addr in resolve(host, port, self.family)? {
            let fd = self.create(&addr)?;
            let (storage, len) = to_sockaddr(&addr);
            // SAFETY: storage holds a valid sockaddr of length len.
            let rc =
                unsafe { libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) };
            if rc == 0 {
                return Ok(());
            }
            last = Failure::last_os();
            self.fd = None;
        }
        Err(last)
    }

    pub(super) fn listen(&mut self, backlog: i64) -> Outcome<()> {
        let fd = self.raw().map_err(|_| Failure::Other("not bound".into()))?;
        let backlog = libc::c_int::try_from(backlog.max(0)).unwrap_or(libc::c_int::MAX);
        // SAFETY: plain system call on an owned descriptor.
        if unsafe { libc::listen(fd, backlog) } != 0 {
            return Err(Failure::last_os());
        }
        self.kind = Kind::Server;
        Ok(())
    }

    pub(super) fn accept(&mut self) -> Outcome<Tcp> {
        let fd = self.raw()?;
        let deadline = self.deadline();
        loop {
            // SAFETY: null address pointers are allowed; the result is checked before use.
            let client = unsafe {
                libc::accept4(
                    fd,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if client >= 0 {
                // SAFETY: client is a fresh descriptor nobody else owns.
                let owned = unsafe { OwnedFd::from_raw_fd(client) };
                return Ok(Tcp::new(Kind::Client, Some(owned), None));
            }
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::EAGAIN | libc::ECONNABORTED) => {
                    wait(fd, libc::POLLIN, deadline.limit())?
                }
                Some(libc::EINTR) => {}
                _ => return Err(Failure::from_io(&error)),
            }
        }
    }

    pub(super) fn close(&mut self) {
        self.fd = None;
        self.connecting = false;
        self.buf = Vec::new();
        self.pos = 0;
    }
}

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

        method(
            methods,
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
        );
        method(
            methods,
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
        );
        method(
            methods,
            "tcp:listen",
            Accept::Only(Kind::Master),
            |lua, tcp, args| {
                let backlog = opt_integer(&args, 1)?.unwrap_or(DEFAULT_BACKLOG);
                match tcp.listen(backlog) {
                    Ok(()) => one(),
                    Err(failure) => fail(lua, failure.message()),
                }
            },
        );
        method(
            methods,
            "tcp:accept",
            Accept::Only(Kind::Server),
            |lua, tcp, _args| match tcp.accept() {
                Ok(client) => Ok(MultiValue::from_vec(vec![Value::UserData(
                    lua.create_userdata(client)?,
                )])),
                Err(failure) => fail(lua, failure.message()),
            },
        );
        method(
            methods,
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
        );
        method(
            methods,
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
        );
        method(methods, "tcp:settimeout", Accept::Any, |_, tcp, args| {
            let value = opt_number(&args, 1)?;
            let limit = value
                .filter(|v| *v >= 0.0)
                .and_then(|v| Duration::try_from_secs_f64(v).ok());
            let mode = args.opt_text(2)?.unwrap_or_else(|| "b".into());
            match mode.as_bytes().first() {
                Some(b'b' | b'r') => tcp.block = limit,
                Some(b't') => tcp.total = limit,
                _ => return Err(args.error("bad argument #2 (invalid timeout mode)")),
            }
            one()
        });
        method(methods, "tcp:gettimeout", Accept::Any, |_, tcp, _args| {
            let secs = |d: Option<Duration>| Value::Number(d.map_or(-1.0, |d| d.as_secs_f64()));
            Ok(MultiValue::from_vec(vec![secs(tcp.block), secs(tcp.total)]))
        });
        method(methods, "tcp:close", Accept::Any, |_, tcp, _args| {
            tcp.close();
            one()
        });
        method(
            methods,
            "tcp:shutdown",
            Accept::Only(Kind::Client),
            |_, tcp, args| {
                let how = match args.opt_text(1)?.as_deref() {
                    None | Some("both") => libc::SHUT_RDWR,
                    Some("send") => libc::SHUT_WR,
                    Some("receive") => libc::SHUT_RD,
                    Some(_) => return Err(args.error("bad argument #1 (invalid shutdown method)")),
                };
                if let Ok(fd) = tcp.raw() {
                    // SAFETY: plain system call on an owned descriptor; errors are ignored, as
                    // LuaSocket ignores them.
                    unsafe { libc::shutdown(fd, how) };
                }
                one()
            },
        );
        method(
            methods,
            "tcp:getpeername",
            Accept::Any,
            |lua, tcp, _args| {
                address_result(lua, tcp.raw().and_then(|fd| socket_address(fd, true)))
            },
        );
        method(
            methods,
            "tcp:getsockname",
            Accept::Any,
            |lua, tcp, _args| {
                address_result(lua, tcp.raw().and_then(|fd| socket_address(fd, false)))
            },
        );
        method(methods, "tcp:setoption", Accept::Any, |lua, tcp, args| {
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
        });
        method(methods, "tcp:getoption", Accept::Any, |lua, tcp, args| {
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
        });
        method(methods, "tcp:dirty", Accept::Any, |_, tcp, _args| {
            Ok(MultiValue::from_vec(vec![Value::Boolean(
                !tcp.buffered().is_empty(),
            )]))
        });
        method(methods, "tcp:getfd", Accept::Any, |_, tcp, _args| {
            let fd = tcp.raw().map_or(-1, i64::from);
            Ok(MultiValue::from_vec(vec![Value::Integer(fd)]))
        });
    }
}

/// What `receive` reads.
#[derive(Clone, Copy)]
pub(super) enum Pattern {
    All,
    Line,
    Bytes(usize),
}

/// Runs one `receive`: the data, and why it stopped short (the data is then the partial result).
pub(super) fn receive(tcp: &mut Tcp, pattern: Pattern) -> (Vec<u8>, Option<Failure>) {
    let deadline = tcp.deadline();
    match pattern {
        Pattern::Bytes(wanted) => loop {
            if tcp.buffered().len() >= wanted {
                return (tcp.take(wanted), None);
            }
            if let Err(failure) = tcp.fill(&deadline) {
                let all = tcp.buffered().len();
                return (tcp.take(all), Some(failure));
            }
        },
        Pattern::Line => {
            let mut searched = 0;
            loop {
                if let Some(at) = tcp.buffered()[searched..].iter().position(|&b| b == b'\n') {
                    let mut line = tcp.take(searched + at + 1);
                    line.pop();
                    line.retain(|&b| b != b'\r');
                    return (line, None);
                }
                searched = tcp.buffered().len();
                if let Err(failure) = tcp.fill(&deadline) {
                    let mut partial = tcp.take(searched);
                    partial.retain(|&b| b != b'\r');
                    return (partial, Some(failure));
                }
            }
        }
        Pattern::All => {
            let mut got_any = !tcp.buffered().is_empty();
            loop {
                match tcp.fill(&deadline) {
                    Ok(()) => got_any = true,
                    Err(failure) => {
                        let all = tcp.buffered().len();
                        let data = tcp.take(all);
                        return match failure {
                            Failure::Closed if got_any => (data, None),
                            failure => (data, Some(failure)),
                        };
                    }
                }
            }
        }
    }
}

/// Registers `tcp:name` as a method taking the object and the checked [`Args`] after it
/// (numbered from 1, as the caller of `sock:name(...)` counts them).
pub(super) fn method<M, F>(methods: &mut M, name: &'static str, accept: Accept, f: F)
where
    M: UserDataMethods<Tcp>,
    F: Fn(&Lua, &mut Tcp, Args) -> Result<MultiValue> + 'static,
{
    let key = name.strip_prefix("tcp:").unwrap_or(name);
    methods.add_function(key, move |lua, values: MultiValue| {
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
    });
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

pub(super) fn bad(args: &Args, index: usize, expected: &str) -> mlua::Error {
    let got = args.value(index).type_name();
    args.error(format!(
        "bad argument #{index} ({expected} expected, got {got})"
    ))
}

/// A number or nil (numeric strings are accepted, as Lua does).
pub(super) fn opt_number(args: &Args, index: usize) -> Result<Option<f64>> {
    match args.value(index) {
        Value::Nil => Ok(None),
        Value::Integer(n) => Ok(Some(n as f64)),
        Value::Number(n) => Ok(Some(n)),
        Value::String(s) => match s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()) {
            Some(n) => Ok(Some(n)),
            None => Err(bad(args, index, "number")),
        },
        _ => Err(bad(args, index, "number")),
    }
}

/// An integer or nil (floats are truncated, as LuaSocket's `(long) luaL_optnumber` does).
pub(super) fn opt_integer(args: &Args, index: usize) -> Result<Option<i64>> {
    match opt_number(args, index)? {
        None => Ok(None),
        Some(n) if n.is_finite() => Ok(Some(n as i64)),
        Some(_) => Err(bad(args, index, "number")),
    }
}

/// A port number (0..=65535), as a number or a numeric string.
pub(super) fn port_arg(args: &Args, index: usize) -> Result<u16> {
    let value = match args.value(index) {
        Value::Nil => return Err(bad(args, index, "port")),
        _ => opt_number(args, index).map_err(|_| bad(args, index, "port"))?,
    };
    match value {
        Some(n) if n.fract() == 0.0 && (0.0..=65535.0).contains(&n) => Ok(n as u16),
        _ => Err(args.error(format!("bad argument #{index} (port out of range)"))),
    }
}

/// `"*a"`/`"a"`, `"*l"`/`"l"` (the default) or a byte count.
pub(super) fn pattern_arg(args: &Args, index: usize) -> Result<Pattern> {
    match args.value(index) {
        Value::Nil => Ok(Pattern::Line),
        Value::Integer(n) if n >= 0 => Ok(Pattern::Bytes(n as usize)),
        Value::Number(n) if n >= 0.0 && n.is_finite() => Ok(Pattern::Bytes(n as usize)),
        Value::String(s) => {
            let bytes = s.as_bytes();
            let body = bytes.strip_prefix(b"*").unwrap_or(&bytes);
            match body.first() {
                Some(b'a') => Ok(Pattern::All),
                Some(b'l') => Ok(Pattern::Line),
                _ => Err(args.error(format!("bad argument #{index} (invalid receive pattern)"))),
            }
        }
        Value::Integer(_) | Value::Number(_) => {
            Err(args.error(format!("bad argument #{index} (invalid receive pattern)")))
        }
        other => Err(args.error(format!(
            "bad argument #{index} (string or number expected, got {})",
            other.type_name()
        ))),
    }
}
