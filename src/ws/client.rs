//! What a WebSocket client connect starts from: the `ws://` / `wss://` URL checked and split
//! into where to connect and the opening handshake request (with the script's extra headers).

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::Request;
use tungstenite::http::{HeaderName, HeaderValue};
use tungstenite::protocol::WebSocketConfig;

use crate::http::url::Url;
use crate::net::tls::TlsOptions;

/// A client connect waiting for its name lookup.
pub struct PendingConnect {
    pub target: Target,
    pub tls: Option<TlsOptions>,
    pub config: WebSocketConfig,
    /// Unconsumed input at which reading pauses.
    pub max_input: usize,
}

/// Where a client connects and what it sends there.
pub struct Target {
    /// Host and port (and whether TLS is used).
    pub url: Url,
    /// The opening handshake request.
    pub request: Request,
}

/// Why a client connect cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    /// Not `ws://` or `wss://`.
    #[error("invalid WebSocket URL '{0}' (expected ws:// or wss://)")]
    Scheme(String),
    /// A `ws://` URL that does not parse.
    #[error("invalid WebSocket URL '{0}'")]
    Invalid(String),
    /// A URL tungstenite cannot make a request of.
    #[error("invalid WebSocket URL '{url}': {reason}")]
    Request { url: String, reason: String },
    /// An extra header whose name is not a token.
    #[error("invalid header name '{0}'")]
    HeaderName(String),
    /// An extra header whose value cannot be sent.
    #[error("invalid value for header '{0}'")]
    HeaderValue(String),
}

/// Checks `url` (`ws://` or `wss://`) and builds the handshake request with `headers` added.
pub fn prepare(url: &str, headers: &[(String, String)]) -> Result<Target, PrepareError> {
    let text = url.trim();
    let lower = text.get(..6).unwrap_or("").to_ascii_lowercase();
    let http_form = if lower.starts_with("ws://") {
        format!("http://{}", &text[5..])
    } else if lower.starts_with("wss://") {
        format!("https://{}", &text[6..])
    } else {
        return Err(PrepareError::Scheme(text.to_owned()));
    };
    let parsed = Url::parse(&http_form).map_err(|_| PrepareError::Invalid(text.to_owned()))?;
    let mut request = text
        .into_client_request()
        .map_err(|error| PrepareError::Request {
            url: text.to_owned(),
            reason: error.to_string(),
        })?;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| PrepareError::HeaderName(name.clone()))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| PrepareError::HeaderValue(name.to_string()))?;
        request.headers_mut().insert(name, value);
    }
    Ok(Target {
        url: parsed,
        request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_and_wss_urls_give_host_port_and_tls() {
        let target = prepare("ws://127.0.0.1:9000/chat?x=1", &[]).expect("valid");
        assert_eq!(target.url.host, "127.0.0.1");
        assert_eq!(target.url.port, 9000);
        assert!(!target.url.tls);
        assert_eq!(target.request.uri().path(), "/chat");
        let target = prepare("WSS://example.com/", &[]).expect("valid");
        assert_eq!(target.url.port, 443);
        assert!(target.url.tls);
    }

    #[test]
    fn other_schemes_and_bad_headers_are_refused_with_a_message() {
        let error = prepare("http://127.0.0.1/", &[])
            .err()
            .expect("refused")
            .to_string();
        assert!(error.contains("ws:// or wss://"), "{error}");
        let error = prepare("ws://", &[]).err().expect("refused").to_string();
        assert!(error.contains("invalid WebSocket URL"), "{error}");
        let headers = [("bad name".to_owned(), "x".to_owned())];
        let error = prepare("ws://h/", &headers)
            .err()
            .expect("refused")
            .to_string();
        assert!(error.contains("invalid header name"), "{error}");
    }

    #[test]
    fn extra_headers_are_in_the_request() {
        let headers = [("X-Token".to_owned(), "abc".to_owned())];
        let target = prepare("ws://h:1/", &headers).expect("valid");
        assert_eq!(target.request.headers()["x-token"], "abc");
    }
}
