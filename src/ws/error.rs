//! Messages for tungstenite's errors, in the words the rest of plua uses ("connection
//! refused", "certificate verify failed: ...").

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
