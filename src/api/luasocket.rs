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

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use mlua::{
    AnyUserData, Lua, MetaMethod, MultiValue, ObjectLike, Result, Table, UserData, UserDataMethods,
    Value,
};

use super::args::{Args, fail};
use super::system::unix_time;

/// Bytes asked of the kernel per `recv`.
const CHUNK: usize = 64 * 1024;
/// `listen` backlog when none is given (LuaSocket's default).
const DEFAULT_BACKLOG: i64 = 32;

/// Why an operation did not complete, named as LuaSocket names it.
#[derive(Debug)]
enum Failure {
    Timeout,
    Closed,
    Other(String),
}

impl Failure {
    fn message(&self) -> String {
        match self {
            Failure::Timeout => "timeout".into(),
            Failure::Closed => "closed".into(),
            Failure::Other(message) => message.clone(),
        }
    }

    /// LuaSocket's wording for the common errno values; `strerror` text for the rest.
    fn from_io(error: &io::Error) -> Failure {
        match error.raw_os_error() {
            Some(libc::ETIMEDOUT) => Failure::Timeout,
            Some(libc::ECONNRESET | libc::ECONNABORTED | libc::EPIPE) => Failure::Closed,
            Some(libc::ECONNREFUSED) => Failure::Other("connection refused".into()),
            Some(libc::EADDRINUSE) => Failure::Other("address already in use".into()),
            Some(libc::EISCONN) => Failure::Other("already connected".into()),
            Some(libc::EACCES) => Failure::Other("permission denied".into()),
            Some(libc::EINTR) => Failure::Other("interrupted".into()),
            _ => {
                let text = error.to_string();
                let text = match text.find(" (os error") {
                    Some(end) => text[..end].to_owned(),
                    None => text,
                };
                Failure::Other(text)
            }
        }
    }

    fn last_os() -> Failure {
        Failure::from_io(&io::Error::last_os_error())
    }
}

type Outcome<T> = std::result::Result<T, Failure>;

/// The LuaSocket class of a TCP object: fresh, connected, or listening.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Master,
    Client,
    Server,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Master => "master",
            Kind::Client => "client",
            Kind::Server => "server",
        }
    }
}

/// Which classes a method accepts.
#[derive(Clone, Copy)]
enum Accept {
    Any,
    Only(Kind),
    MasterOrClient,
}

impl Accept {
    fn allows(self, kind: Kind) -> bool {
        match self {
            Accept::Any => true,
            Accept::Only(only) => only == kind,
            Accept::MasterOrClient => kind != Kind::Server,
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Accept::Any | Accept::MasterOrClient => "tcp{any}",
            Accept::Only(Kind::Master) => "tcp{master}",
            Accept::Only(Kind::Client) => "tcp{client}",
            Accept::Only(Kind::Server) => "tcp{server}",
        }
    }
}

/// Boolean socket options by their LuaSocket names: (name, level, option).
const OPTIONS: &[(&str, libc::c_int, libc::c_int)] = &[
    ("tcp-nodelay", libc::IPPROTO_TCP, libc::TCP_NODELAY),
    ("keepalive", libc::SOL_SOCKET, libc::SO_KEEPALIVE),
    ("reuseaddr", libc::SOL_SOCKET, libc::SO_REUSEADDR),
    ("reuseport", libc::SOL_SOCKET, libc::SO_REUSEPORT),
];

/// A wait budget for one method call: LuaSocket's block timeout (per wait) and total timeout
/// (for the whole call); `None` is unlimited.
struct Deadline {
    block: Option<Duration>,
    end: Option<Instant>,
}

impl Deadline {
    fn new(block: Option<Duration>, total: Option<Duration>) -> Deadline {
        Deadline {
            block,
            end: total.and_then(|total| Instant::now().checked_add(total)),
        }
    }

    /// How long the next wait may last.
    fn limit(&self) -> Option<Duration> {
        let remaining = self
            .end
            .map(|end| end.saturating_duration_since(Instant::now()));
        match (self.block, remaining) {
            (None, None) => None,
            (Some(block), None) => Some(block),
            (None, Some(remaining)) => Some(remaining),
            (Some(block), Some(remaining)) => Some(block.min(remaining)),
        }
    }
}

/// Milliseconds for `poll(2)`, rounded up so a wait never ends early; -1 is forever.
fn poll_millis(limit: Option<Duration>) -> libc::c_int {
    match limit {
        None => -1,
        Some(limit) => {
            let millis = limit.as_nanos().div_ceil(1_000_000);
            libc::c_int::try_from(millis).unwrap_or(libc::c_int::MAX)
        }
    }
}

/// Waits until `fd` has one of `events` or the limit passes.
fn wait(fd: RawFd, events: libc::c_short, limit: Option<Duration>) -> Outcome<()> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: pfd is one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, poll_millis(limit)) };
    match n {
        n if n < 0 => Err(Failure::last_os()),
        0 => Err(Failure::Timeout),
        _ => Ok(()),
    }
}

/// A `sockaddr` for the system calls.
fn to_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match addr {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// The address a system call filled in, if it is IPv4 or IPv6.
fn from_sockaddr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    let pointer = (storage as *const libc::sockaddr_storage).cast::<u8>();
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin: libc::sockaddr_in = unsafe { std::ptr::read_unaligned(pointer.cast()) };
            let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6: libc::sockaddr_in6 = unsafe { std::ptr::read_unaligned(pointer.cast()) };
            let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn family_of(addr: &SocketAddr) -> libc::c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

/// A new non-blocking, close-on-exec TCP socket.
fn new_socket(family: libc::c_int) -> Outcome<OwnedFd> {
    // SAFETY: plain system call; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(Failure::last_os());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn set_flag(fd: RawFd, level: libc::c_int, option: libc::c_int, on: bool) -> Outcome<()> {
    let value = libc::c_int::from(on);
    // SAFETY: value is a valid c_int for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            option,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Failure::last_os())
    }
}

fn get_int(fd: RawFd, level: libc::c_int, option: libc::c_int) -> Outcome<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len are valid for writing.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            level,
            option,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(Failure::last_os())
    }
}

/// `getsockname` or `getpeername` as an address.
fn socket_address(fd: RawFd, peer: bool) -> Outcome<SocketAddr> {
    // SAFETY: all-zero sockaddr_storage is valid.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let pointer = (&mut storage as *mut libc::sockaddr_storage).cast();
    // SAFETY: storage and len are valid for writing; len is its size.
    let rc = unsafe {
        if peer {
            libc::getpeername(fd, pointer, &mut len)
        } else {
            libc::getsockname(fd, pointer, &mut len)
        }
    };
    if rc != 0 {
        return Err(Failure::last_os());
    }
    from_sockaddr(&storage).ok_or_else(|| Failure::Other("unknown address family".into()))
}

/// Resolves `host` (LuaSocket's `"*"` is any address), keeping only `family` when given.
fn resolve(host: &str, port: u16, family: Option<libc::c_int>) -> Outcome<Vec<SocketAddr>> {
    let host = if host == "*" { "0.0.0.0" } else { host };
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| Failure::Other("host not found".into()))?
        .filter(|addr| family.is_none_or(|family| family_of(addr) == family))
        .collect();
    if addrs.is_empty() {
        return Err(Failure::Other("host not found".into()));
    }
    Ok(addrs)
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
    fn new(kind: Kind, fd: Option<OwnedFd>, family: Option<libc::c_int>) -> Tcp {
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

    fn raw(&self) -> Outcome<RawFd> {
        self.fd
            .as_ref()
            .map(AsRawFd::as_raw_fd)
            .ok_or(Failure::Closed)
    }

    fn deadline(&self) -> Deadline {
        Deadline::new(self.block, self.total)
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Removes and returns the first `n` pending bytes.
    fn take(&mut self, n: usize) -> Vec<u8> {
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
    fn create(&mut self, addr: &SocketAddr) -> Outcome<RawFd> {
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
    fn fill(&mut self, deadline: &Deadline) -> Outcome<()> {
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
    fn send_all(&mut self, data: &[u8], deadline: &Deadline) -> (usize, Option<Failure>) {
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
    fn finish_connect(&mut self, fd: RawFd, deadline: &Deadline) -> Outcome<()> {
        wait(fd, libc::POLLOUT, deadline.limit())?;
        match get_int(fd, libc::SOL_SOCKET, libc::SO_ERROR)? {
            0 => Ok(()),
            code => Err(Failure::from_io(&io::Error::from_raw_os_error(code))),
        }
    }

    /// `connect` to one address; a timeout leaves the attempt pending.
    fn connect_to(&mut self, addr: &SocketAddr, deadline: &Deadline) -> Outcome<()> {
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

    fn connect(&mut self, host: &str, port: u16) -> Outcome<()> {
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

    fn bind(&mut self, host: &str, port: u16) -> Outcome<()> {
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

    fn listen(&mut self, backlog: i64) -> Outcome<()> {
        let fd = self.raw().map_err(|_| Failure::Other("not bound".into()))?;
        let backlog = libc::c_int::try_from(backlog.max(0)).unwrap_or(libc::c_int::MAX);
        // SAFETY: plain system call on an owned descriptor.
        if unsafe { libc::listen(fd, backlog) } != 0 {
            return Err(Failure::last_os());
        }
        self.kind = Kind::Server;
        Ok(())
    }

    fn accept(&mut self) -> Outcome<Tcp> {
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

    fn close(&mut self) {
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
enum Pattern {
    All,
    Line,
    Bytes(usize),
}

/// Runs one `receive`: the data, and why it stopped short (the data is then the partial result).
fn receive(tcp: &mut Tcp, pattern: Pattern) -> (Vec<u8>, Option<Failure>) {
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
fn method<M, F>(methods: &mut M, name: &'static str, accept: Accept, f: F)
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

fn one() -> Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![Value::Integer(1)]))
}

/// `ip, port, family` or `nil, message`.
fn address_result(lua: &Lua, addr: Outcome<SocketAddr>) -> Result<MultiValue> {
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

fn bad(args: &Args, index: usize, expected: &str) -> mlua::Error {
    let got = args.value(index).type_name();
    args.error(format!(
        "bad argument #{index} ({expected} expected, got {got})"
    ))
}

/// A number or nil (numeric strings are accepted, as Lua does).
fn opt_number(args: &Args, index: usize) -> Result<Option<f64>> {
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
fn opt_integer(args: &Args, index: usize) -> Result<Option<i64>> {
    match opt_number(args, index)? {
        None => Ok(None),
        Some(n) if n.is_finite() => Ok(Some(n as i64)),
        Some(_) => Err(bad(args, index, "number")),
    }
}

/// A port number (0..=65535), as a number or a numeric string.
fn port_arg(args: &Args, index: usize) -> Result<u16> {
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
fn pattern_arg(args: &Args, index: usize) -> Result<Pattern> {
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

/// Registers a module function reading its arguments through [`Args`].
fn function<F>(lua: &Lua, table: &Table, name: &'static str, f: F) -> Result<()>
where
    F: Fn(&Lua, Args) -> Result<MultiValue> + 'static,
{
    let key = name.strip_prefix("socket.").unwrap_or(name);
    let key = key.rsplit('.').next().unwrap_or(key);
    table.set(
        key,
        lua.create_function(move |lua, values: MultiValue| f(lua, Args::new(lua, name, values)))?,
    )
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
        timeout
            .filter(|t| *t >= 0.0)
            .map(|t| Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX))
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
    if seconds.is_nan() || seconds <= 0.0 {
        return Ok(());
    }
    let duration = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
    let spec = libc::timespec {
        tv_sec: libc::time_t::try_from(duration.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(duration.subsec_nanos() as i32),
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
