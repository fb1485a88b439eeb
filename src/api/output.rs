//! Standard output as Lua sees it. `print` writes through C's `stdout` — the same buffer
//! `io.write` uses — so the two never reorder; it is line-buffered on a terminal and fully
//! buffered on pipes and files, and the runtime flushes it before sleeping in the poller and
//! before exiting, so output is never lost or late. HC3 markup in printed text is rendered as
//! colour on a terminal (unless `NO_COLOR` is set) and stripped otherwise.

use std::io::IsTerminal;

use mlua::{Lua, LuaString, Result, Table};

use super::html;

unsafe extern "C" {
    #[link_name = "stdout"]
    static mut C_STDOUT: *mut libc::FILE;
}

/// Writes raw bytes to C's `stdout`.
pub fn write_stdout(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    // SAFETY: `stdout` is initialised by the C runtime before main and only used from this
    // thread; fwrite copies from a valid slice.
    unsafe {
        libc::fwrite(bytes.as_ptr().cast(), 1, bytes.len(), C_STDOUT);
    }
}

/// Flushes C's `stdout` (shared with `io.write`).
pub fn flush_stdout() {
    // SAFETY: see `write_stdout`.
    unsafe {
        libc::fflush(C_STDOUT);
    }
}

/// Whether printed markup becomes ANSI colour: stdout is a terminal and `NO_COLOR` is unset.
pub fn colour_enabled() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Adds `core.write_line(text)`: writes one printed line, rendering markup. The prelude builds
/// `print` on it with Lua's own `tostring`, so numbers, `__tostring`, `__name` and errors behave
/// exactly as in standard Lua.
pub fn register(lua: &Lua, core: &Table) -> Result<()> {
    let colour = colour_enabled();
    let write_line = lua.create_function(move |_, text: LuaString| {
        let mut line = Vec::with_capacity(text.as_bytes().len() + 1);
        line.extend_from_slice(&text.as_bytes());
        line.push(b'\n');
        write_stdout(&html::render(&line, colour));
        Ok(())
    })?;
    core.set("write_line", write_line)
}
