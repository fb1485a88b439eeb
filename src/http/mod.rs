//! HTTP/1.1 for scripts: request parsing and response writing (the embedded server is built on
//! them in the HTTP issue).

pub mod blocking;
pub mod buffers;
pub mod client;
pub mod client_request;
pub mod conn;
pub mod error;
pub mod framing;
pub mod http_date;
pub mod outgoing;
pub mod request;
pub mod response;
pub mod server;
pub mod static_files;
pub mod upgrade;
pub mod url;
