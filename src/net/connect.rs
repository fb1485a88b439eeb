//! The second half of the one dial path: a non-blocking connect to an address, wrapped in TLS
//! when asked. TCP clients, the HTTP client and WebSocket clients all open their streams here;
//! the first half (literal address or a name lookup on the worker pool) is
//! `src/sockets/lookups.rs`.

use std::net::SocketAddr;
use std::path::Path;

use mio::net::TcpStream;

use super::describe_io_error;
use super::tls::{self, TlsError, TlsOptions, TlsTransport};
use super::transport::{PlainTcp, Transport};

/// Why a stream could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The connect itself failed at once ("network unreachable", "permission denied").
    #[error("{}", describe_io_error(.0))]
    Io(#[from] std::io::Error),
    /// The TLS settings or the server name were not usable.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Starts connecting to `address`; with `tls`, the stream carries TLS for `host` (or the
/// options' `server_name`). The connect (and handshake) finish on later readiness events.
pub fn open(
    address: SocketAddr,
    host: &str,
    tls: Option<&TlsOptions>,
) -> Result<Box<dyn Transport>, ConnectError> {
    let stream = TcpStream::connect(address)?;
    let Some(options) = tls else {
        return Ok(Box::new(PlainTcp::new(stream)));
    };
    let config = tls::client_config(options.verify, options.ca_file.as_deref().map(Path::new))?;
    let name = options.server_name.as_deref().unwrap_or(host);
    Ok(Box::new(TlsTransport::client(stream, config, name)?))
}
