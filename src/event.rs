//! What the socket layers hand up to the runtime: [`NetEvent`]s (an operation finished, a
//! socket emits an event, an HTTP request arrived) carrying [`Val`]s built without touching the
//! Lua state. A leaf: every socket floor writes these, only the runtime reads them.

use std::collections::VecDeque;

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
    pub fn failure(op: u64, message: impl std::fmt::Display) -> NetEvent {
        NetEvent::Complete {
            op,
            values: vec![Val::Bool(false), Val::Nil, Val::Text(message.to_string())],
        }
    }
}

/// Finished operations waiting to reach Lua, in order.
pub type EventQueue = VecDeque<NetEvent>;
