//! WebSocket upgrades on the embedded HTTP server: which requests a server hands to one of its
//! WebSocket servers, the checks of the opening handshake (RFC 6455 section 4.2.1) and the
//! `101 Switching Protocols` answer. The connection itself moves to `src/ws/` afterwards.

use super::request::{Head, decode_query};
use crate::event::Val;

/// The WebSocket routes of an HTTP server.
#[derive(Debug, Clone, Default)]
pub struct WsRoutes {
    /// Path (exact, without query; `*` = any) → WebSocket server id.
    pub routes: Vec<(String, u64)>,
    /// The server answers nothing but upgrades (a `websocket_server_start` server): other
    /// requests get 426.
    pub only: bool,
}

/// What to do with a request on a server that has WebSocket routes.
pub enum Decision {
    /// Not for a WebSocket route: the script's handler answers it.
    Http,
    /// Answer with this status (426 or 400), text and extra header, and close.
    Refuse {
        status: u16,
        text: String,
        header: Option<(&'static str, &'static str)>,
    },
    /// Send `answer` (the 101), then hand the connection to WebSocket server `ws_server`;
    /// `request` is what its `client_connected` listener gets.
    Upgrade {
        ws_server: u64,
        answer: Vec<u8>,
        request: Val,
    },
}

fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|value| {
        value
            .split(',')
            .any(|part| part.trim().eq_ignore_ascii_case(token))
    })
}

/// Decides what `head` is on a server with `routes`; `peer` is the client's address.
pub fn decide(head: &Head, routes: &WsRoutes, peer: &str) -> Decision {
    let route = routes
        .routes
        .iter()
        .find(|(path, _)| path == "*" || *path == head.path())
        .map(|(_, server)| *server);
    let wants_upgrade = has_token(head.header("upgrade"), "websocket");
    let Some(ws_server) = route else {
        return if routes.only {
            upgrade_required()
        } else {
            Decision::Http
        };
    };
    if !wants_upgrade {
        return if routes.only {
            upgrade_required()
        } else {
            Decision::Http
        };
    }
    let bad = |why: &str| Decision::Refuse {
        status: 400,
        text: format!("bad WebSocket handshake: {why}\n"),
        header: None,
    };
    if head.method() != "GET" {
        return bad("the method must be GET");
    }
    if !has_token(head.header("connection"), "upgrade") {
        return bad("Connection must include 'Upgrade'");
    }
    if head.header("sec-websocket-version").map(str::trim) != Some("13") {
        return Decision::Refuse {
            status: 426,
            text: "WebSocket version 13 required\n".into(),
            header: Some(("Sec-WebSocket-Version", "13")),
        };
    }
    let Some(key) = head.header("sec-websocket-key").map(str::trim) else {
        return bad("no Sec-WebSocket-Key");
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes();
    Decision::Upgrade {
        ws_server,
        answer,
        request: request_info(head, peer),
    }
}

fn upgrade_required() -> Decision {
    Decision::Refuse {
        status: 426,
        text: "this server only speaks WebSocket\n".into(),
        header: Some(("Upgrade", "websocket")),
    }
}

/// `{path, query = {name = value}, headers, remote}` of the upgrade request, as an HTTP
/// handler's `req` has them (header names lower-case).
fn request_info(head: &Head, peer: &str) -> Val {
    let headers = head
        .headers()
        .map(|(name, value)| (name.to_owned(), Val::Text(value.to_owned())))
        .collect();
    let query = decode_query(head.query())
        .into_iter()
        .map(|(name, value)| (name, Val::Text(value)))
        .collect();
    Val::Record(vec![
        ("path", Val::Text(head.path().to_owned())),
        ("query", Val::Map(query)),
        ("headers", Val::Map(headers)),
        ("remote", Val::Text(peer.to_owned())),
    ])
}

/// A connection whose upgrade was answered, on its way to a WebSocket server.
pub struct Upgraded {
    /// The connection id (kept: it is the poller token).
    pub conn: u64,
    pub ws_server: u64,
    pub transport: Box<dyn crate::net::transport::Transport>,
    /// Bytes that came after the upgrade request (the first frames).
    pub leftover: Vec<u8>,
    pub request: Val,
    /// The connection's place in the connection caps, kept by the WebSocket connection.
    pub cap_slot: Option<crate::net::caps::CapSlot>,
}
