//! The typed failures of the socket boundary: what can go wrong when a script opens, binds,
//! starts or addresses a socket, with the words plua shows the script ("unknown server id 7",
//! "cannot listen on 10.0.0.1:80: address not available"). Callers keep the type; the Lua
//! bindings turn it into the script's message in one place (`api::args::failure`).

use std::io;
use std::net::SocketAddr;

use super::describe_io_error;

/// Why a socket operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// No socket of kind `what` has this id (and none had it lately).
    #[error("unknown {what} id {id}")]
    Unknown { what: &'static str, id: u64 },
    /// The socket with this id was closed.
    #[error("closed")]
    Closed,
    /// A bind host that is no IP address (names are looked up before binding).
    #[error("cannot listen on '{host}': not an IP address")]
    NotAnAddress { host: String },
    /// bind(2) or listen(2) of a TCP listener failed.
    #[error("cannot listen on {host}:{port}: {}", describe_io_error(.source))]
    Listen {
        host: String,
        port: u16,
        source: io::Error,
    },
    /// bind(2) of a UDP socket failed.
    #[error("cannot bind UDP {address}: {}", describe_io_error(.source))]
    UdpBind {
        address: SocketAddr,
        source: io::Error,
    },
    /// connect(2) of a UDP socket failed.
    #[error("cannot connect UDP to {peer}: {}", describe_io_error(.source))]
    UdpConnect { peer: SocketAddr, source: io::Error },
    /// `SO_BROADCAST` could not be set.
    #[error("cannot enable broadcast: {0}")]
    Broadcast(io::Error),
    /// The poller refused the socket, or the OS could not say where it is bound.
    #[error("{0}")]
    Os(io::Error),
    /// A TCP server that is listening already.
    #[error("server {0} is already listening")]
    AlreadyListening(u64),
    /// A WebSocket server that is started already.
    #[error("already started")]
    AlreadyStarted,
    /// A WebSocket client with a connection open or in progress.
    #[error("already connected or connecting")]
    AlreadyConnecting,
}
