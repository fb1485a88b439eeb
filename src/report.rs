//! The one place that says a callback failed and the process goes on: a timer, socket or
//! WebSocket listener that raised ("Error in <event> callback: ..."), or an HTTP handler that
//! raised or returned a response that cannot be sent ("Error in HTTP handler: ..."). The
//! runtime calls it for task coroutines; the Lua wrappers call it through
//! `core.report_error(kind, what, message)`.

use mlua::{Lua, Result, Table};

/// What failed: a callback for an event, or the HTTP handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed<'a> {
    /// A callback for `event` (`timer`, `request`, `dataReceived`, …).
    Callback(&'a str),
    /// An HTTP server's request handler.
    HttpHandler,
}

/// Writes the report of one failure to stderr.
pub fn failure(what: Failed, message: &str) {
    match what {
        Failed::Callback(event) => eprintln!("Error in {event} callback: {message}"),
        Failed::HttpHandler => eprintln!("Error in HTTP handler: {message}"),
    }
}

/// Adds `core.report_error(kind, name, message)`: `kind` is `"callback"` (then `name` is the
/// event) or `"handler"` (the HTTP handler; `name` is ignored).
pub fn register(lua: &Lua, core: &Table) -> Result<()> {
    core.set(
        "report_error",
        lua.create_function(|_, (kind, name, message): (String, String, String)| {
            let what = match kind.as_str() {
                "handler" => Failed::HttpHandler,
                _ => Failed::Callback(&name),
            };
            failure(what, &message);
            Ok(())
        })?,
    )
}
