//! The typed outcome of reading an HTTP message: why a request cannot be served (each reason
//! maps to a status code) and how a body is delimited. A leaf of the HTTP floor.

/// Why a request cannot be served; each maps to a status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("bad request: {0}")]
    Malformed(String),
    #[error("request header fields too large")]
    HeadTooLarge,
    #[error("payload too large")]
    BodyTooLarge,
    #[error("transfer encoding not implemented: {0}")]
    UnsupportedEncoding(String),
}

impl RequestError {
    /// The status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::Malformed(_) => 400,
            RequestError::HeadTooLarge => 431,
            RequestError::BodyTooLarge => 413,
            RequestError::UnsupportedEncoding(_) => 501,
        }
    }
}

/// How the body of a request is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    Empty,
    Length(usize),
    Chunked,
}
