//! Sockets on the reactor: TCP connections (plain or TLS), TCP servers and UDP sockets, kept in
//! maps keyed by handle id (the mio token is the id plus [`TOKEN_OFFSET`]). Nothing here touches
//! Lua: operations finish as [`NetEvent`]s in a queue that the runtime turns into callback or
//! coroutine resumptions, so the same state machines also serve the blocking fallback of the
//! waiting functions.

pub mod reads;
pub mod registry;
pub mod resolve;
pub mod server;
pub mod tcp;
pub mod tls;
pub mod transport;
pub mod udp;
pub mod ws;

use std::collections::VecDeque;

/// Tokens below this are the reactor's own (waker, signals, stdin).
pub const TOKEN_OFFSET: usize = 16;

/// A value handed to Lua, built without touching the Lua state.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Nil,
    Bool(bool),
    Int(i64),
    /// Binary-safe bytes (socket data).
    Bytes(Vec<u8>),
    /// Text (messages, addresses).
    Text(String),
    /// A table with fixed string keys (the blocking-style server family's results).
    Record(Vec<(&'static str, Val)>),
    /// A table with keys from the wire (HTTP headers, query parameters).
    Map(Vec<(String, Val)>),
}

impl From<&str> for Val {
    fn from(text: &str) -> Self {
        Val::Text(text.to_owned())
    }
}

impl From<String> for Val {
    fn from(text: String) -> Self {
        Val::Text(text)
    }
}

/// Something that happened on a socket, for the runtime to hand to Lua.
#[derive(Debug, Clone, PartialEq)]
pub enum NetEvent {
    /// Operation `op` finished with these values (`ok, value|nil, message` by convention).
    Complete { op: u64, values: Vec<Val> },
    /// A server or socket `owner` emits `event` to its listeners.
    Emit {
        owner: u64,
        event: &'static str,
        args: Vec<Val>,
    },
    /// HTTP server `server` emits `request` (connection `conn`, sequence number `seq`): the
    /// hot path of the HTTP server, kept apart from `Emit` so the request goes to Lua without
    /// an intermediate tree of values.
    HttpRequest {
        server: u64,
        conn: u64,
        seq: u64,
        request: crate::http::request::Request,
    },
}

impl NetEvent {
    /// `ok = true` with a value and a message.
    pub fn success(op: u64, value: Val, message: impl Into<String>) -> NetEvent {
        NetEvent::Complete {
            op,
            values: vec![Val::Bool(true), value, Val::Text(message.into())],
        }
    }

    /// `ok = false, nil, message`.
    pub fn failure(op: u64, message: impl Into<String>) -> NetEvent {
        NetEvent::Complete {
            op,
            values: vec![Val::Bool(false), Val::Nil, Val::Text(message.into())],
        }
    }
}

/// Finished operations waiting to reach Lua, in order.
pub type EventQueue = VecDeque<NetEvent>;

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

/// Listens on `host:port` and registers the listener under `token`; returns it and the address
/// actually bound (port 0 picks a free one). `host` is a literal IP or `localhost`: a name was
/// looked up on the worker pool before (`core.resolve`), as the reactor never waits for DNS.
pub fn listen_on(
    registry: &mio::Registry,
    host: &str,
    port: u16,
    token: mio::Token,
) -> Result<(mio::net::TcpListener, std::net::SocketAddr), String> {
    let address = resolve::literal(host, port)
        .ok_or_else(|| format!("cannot listen on '{host}': not an IP address"))?;
    let mut listener = listen(address).map_err(|error| {
        format!(
            "cannot listen on {host}:{port}: {}",
            describe_io_error(&error)
        )
    })?;
    registry
        .register(&mut listener, token, mio::Interest::READABLE)
        .map_err(|error| error.to_string())?;
    let local = listener.local_addr().map_err(|error| error.to_string())?;
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
