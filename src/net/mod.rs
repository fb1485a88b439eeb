//! Sockets on the reactor: TCP connections (plain or TLS), TCP servers and UDP sockets, one
//! state machine per file, plus the helpers every socket shares (binding a listener, wording an
//! I/O error). Nothing here touches Lua: operations finish as [`crate::event::NetEvent`]s in a
//! queue that the runtime turns into callback or coroutine resumptions, so the same state
//! machines also serve the blocking fallback of the waiting functions.

pub mod caps;
pub mod connect;
pub mod error;
pub mod live_map;
pub mod reads;
pub mod refuse;
pub mod resolve;
pub mod server;
pub mod socket_table;
pub mod tcp;
pub mod tls;
pub mod transport;
pub mod udp;

use error::SocketError;

/// Listen backlog for servers: mio (like std) asks for 128, which drops the SYNs of a burst of
/// connections made in one turn of a client's loop (they then wait a second for the retry).
const LISTEN_BACKLOG: libc::c_int = 1024;

/// Binds a listening socket with plua's backlog.
pub fn listen(address: std::net::SocketAddr) -> std::io::Result<mio::net::TcpListener> {
    use std::os::fd::AsRawFd;
    let listener = mio::net::TcpListener::bind(address)?;
    // SAFETY: listen(2) on a socket we own; calling it again only changes the backlog.
    if unsafe { libc::listen(listener.as_raw_fd(), LISTEN_BACKLOG) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(listener)
}

/// Listens on `host:port` and registers the listener as socket `id` of `owner`; returns it and
/// the address actually bound (port 0 picks a free one). `host` is a literal IP or
/// `localhost`: a name was looked up on the worker pool before (`core.resolve`), as the
/// reactor never waits for DNS.
pub fn listen_on(
    table: &mut socket_table::SocketTable,
    host: &str,
    port: u16,
    id: u64,
    owner: socket_table::Owner,
) -> Result<(mio::net::TcpListener, std::net::SocketAddr), SocketError> {
    let address = resolve::literal(host, port).ok_or_else(|| SocketError::NotAnAddress {
        host: host.to_owned(),
    })?;
    let mut listener = listen(address).map_err(|source| SocketError::Listen {
        host: host.to_owned(),
        port,
        source,
    })?;
    table
        .register(&mut listener, id, mio::Interest::READABLE, owner)
        .map_err(SocketError::Os)?;
    let local = listener.local_addr().map_err(SocketError::Os)?;
    Ok((listener, local))
}

/// A short, clear description of an I/O error for Lua ("connection refused", "timeout").
pub fn describe_io_error(error: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match error.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset by peer".into(),
        ConnectionAborted => "connection aborted".into(),
        BrokenPipe => "closed".into(),
        TimedOut => "timeout".into(),
        AddrInUse => "address already in use".into(),
        AddrNotAvailable => "address not available".into(),
        PermissionDenied => "permission denied".into(),
        _ => match error.raw_os_error() {
            Some(libc::EHOSTUNREACH) => "host unreachable".into(),
            Some(libc::ENETUNREACH) => "network unreachable".into(),
            _ => error.to_string(),
        },
    }
}
