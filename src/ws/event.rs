//! The events a WebSocket connection emits to its owner's listeners: a client emits to
//! itself (`connected`, `dataReceived`, `error`, `disconnected`), a server's connection to its
//! server with the client id first (`message`, `error`, `client_disconnected`).

use crate::event::{NetEvent, Val};

/// Who the connection belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A client made by `websocket_client_create` (its id is the connection's).
    Client,
    /// A connection accepted by WebSocket server `server`.
    Server { server: u64 },
}

/// `connected()` of client `id`.
pub fn connected(id: u64) -> NetEvent {
    NetEvent::Emit {
        owner: id,
        event: "connected",
        args: Vec::new(),
    }
}

/// A received message for the owner's listeners: `dataReceived(data, is_binary)` on a client,
/// `message(client, data, is_binary)` on a server.
pub fn message(side: Side, id: u64, data: Vec<u8>, binary: bool) -> NetEvent {
    match side {
        Side::Client => NetEvent::Emit {
            owner: id,
            event: "dataReceived",
            args: vec![Val::Bytes(data), Val::Bool(binary)],
        },
        Side::Server { server } => NetEvent::Emit {
            owner: server,
            event: "message",
            args: vec![Val::Int(id as i64), Val::Bytes(data), Val::Bool(binary)],
        },
    }
}

/// `error(message)` on a client, `error(message, client)` on a server.
pub fn error(side: Side, id: u64, message: String) -> NetEvent {
    match side {
        Side::Client => NetEvent::Emit {
            owner: id,
            event: "error",
            args: vec![Val::Text(message)],
        },
        Side::Server { server } => NetEvent::Emit {
            owner: server,
            event: "error",
            args: vec![Val::Text(message), Val::Int(id as i64)],
        },
    }
}

/// `disconnected(code, reason)` on a client, `client_disconnected(client, code, reason)` on a
/// server.
pub fn disconnected(side: Side, id: u64, code: u16, reason: String) -> NetEvent {
    let code = Val::Int(i64::from(code));
    match side {
        Side::Client => NetEvent::Emit {
            owner: id,
            event: "disconnected",
            args: vec![code, Val::Text(reason)],
        },
        Side::Server { server } => NetEvent::Emit {
            owner: server,
            event: "client_disconnected",
            args: vec![Val::Int(id as i64), code, Val::Text(reason)],
        },
    }
}
