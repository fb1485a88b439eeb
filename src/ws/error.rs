//! The WebSocket boundary's failures: messages for tungstenite's errors in the words the rest
//! of plua uses ("connection refused", "certificate verify failed: ..."), and the typed
//! reasons a message cannot be sent.

use std::io;

use tungstenite::error::Error as WsError;

use crate::net::describe_io_error;

/// A clear message for a tungstenite error.
pub fn describe(error: &WsError) -> String {
    match error {
        WsError::Io(error) if error.kind() == io::ErrorKind::InvalidData => error
            .get_ref()
            .map_or_else(|| error.to_string(), |inner| inner.to_string()),
        WsError::Io(error) => describe_io_error(error),
        WsError::Http(response) => {
            let status = response.status();
            format!(
                "handshake failed: the server answered {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )
            .trim_end()
            .to_owned()
        }
        WsError::Capacity(error) => format!("message too big: {error}"),
        WsError::Protocol(error) => format!("protocol error: {error}"),
        other => other.to_string(),
    }
}

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The client's connect or handshake is still in progress.
    #[error("not connected yet")]
    NotConnectedYet,
    /// No open connection (a client never connected, or the connection ended).
    #[error("not connected")]
    NotConnected,
    /// The closing handshake has started.
    #[error("closing")]
    Closing,
    /// A text message that is not UTF-8.
    #[error("text message is not valid UTF-8 (send it as binary)")]
    NotUtf8,
    /// The peer stopped reading and the outgoing buffer is full.
    #[error("send buffer full: the peer is not reading")]
    BufferFull,
    /// Bigger than the connection accepts.
    #[error("message too big: {0}")]
    TooBig(tungstenite::error::CapacityError),
    /// Anything else tungstenite reported, in plua's words.
    #[error("{}", describe(.0))]
    Failed(Box<WsError>),
    /// No such connection, or it was closed.
    #[error(transparent)]
    Socket(#[from] crate::net::error::SocketError),
}
