//! plua as a library: the modules the `plua` binary (src/main.rs) is made of. It exists so the
//! fuzz targets under fuzz/ can call the parsers and the Lua bridge directly; the binary is the
//! product and nothing here is a stable API.

pub mod api;
pub mod cli;
pub mod event;
pub mod http;
pub mod line_editor;
pub mod lua;
pub mod net;
pub mod plan;
pub mod reactor;
pub mod repl;
pub mod report;
pub mod runtime;
pub mod sockets;
pub mod ws;
