//! Raw sockets for the `socket` module: failures named as LuaSocket names them, poll-bounded
//! waits, `sockaddr` conversions, socket options and name resolution.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Why an operation did not complete, named as LuaSocket names it.
#[derive(Debug)]
pub(super) enum Failure {
    Timeout,
    Closed,
    Other(String),
}

impl Failure {
    pub(super) fn message(&self) -> String {
        match self {
            Failure::Timeout => "timeout".into(),
            Failure::Closed => "closed".into(),
            Failure::Other(message) => message.clone(),
        }
    }

    /// LuaSocket's wording for the common errno values; `strerror` text for the rest.
    pub(super) fn from_io(error: &io::Error) -> Failure {
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

    pub(super) fn last_os() -> Failure {
        Failure::from_io(&io::Error::last_os_error())
    }
}

pub(super) type Outcome<T> = std::result::Result<T, Failure>;

/// Boolean socket options by their LuaSocket names: (name, level, option).
pub(super) const OPTIONS: &[(&str, libc::c_int, libc::c_int)] = &[
    ("tcp-nodelay", libc::IPPROTO_TCP, libc::TCP_NODELAY),
    ("keepalive", libc::SOL_SOCKET, libc::SO_KEEPALIVE),
    ("reuseaddr", libc::SOL_SOCKET, libc::SO_REUSEADDR),
    ("reuseport", libc::SOL_SOCKET, libc::SO_REUSEPORT),
];

/// A wait budget for one method call: LuaSocket's block timeout (per wait) and total timeout
/// (for the whole call); `None` is unlimited.
pub(super) struct Deadline {
    block: Option<Duration>,
    end: Option<Instant>,
}

impl Deadline {
    pub(super) fn new(block: Option<Duration>, total: Option<Duration>) -> Deadline {
        Deadline {
            block,
            end: total.and_then(|total| Instant::now().checked_add(total)),
        }
    }

    /// How long the next wait may last.
    pub(super) fn limit(&self) -> Option<Duration> {
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
pub(super) fn poll_millis(limit: Option<Duration>) -> libc::c_int {
    match limit {
        None => -1,
        Some(limit) => {
            let millis = limit.as_nanos().div_ceil(1_000_000);
            libc::c_int::try_from(millis).unwrap_or(libc::c_int::MAX)
        }
    }
}

/// Waits until `fd` has one of `events` or the limit passes.
pub(super) fn wait(fd: RawFd, events: libc::c_short, limit: Option<Duration>) -> Outcome<()> {
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
pub(super) fn to_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
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
pub(super) fn from_sockaddr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
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

pub(super) fn family_of(addr: &SocketAddr) -> libc::c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

/// A new non-blocking, close-on-exec TCP socket.
pub(super) fn new_socket(family: libc::c_int) -> Outcome<OwnedFd> {
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

pub(super) fn set_flag(
    fd: RawFd,
    level: libc::c_int,
    option: libc::c_int,
    on: bool,
) -> Outcome<()> {
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

pub(super) fn get_int(fd: RawFd, level: libc::c_int, option: libc::c_int) -> Outcome<libc::c_int> {
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
pub(super) fn socket_address(fd: RawFd, peer: bool) -> Outcome<SocketAddr> {
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
pub(super) fn resolve(
    host: &str,
    port: u16,
    family: Option<libc::c_int>,
) -> Outcome<Vec<SocketAddr>> {
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
