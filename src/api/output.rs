//! Standard output as Lua sees it. `print` writes through C's `stdout` — the same buffer
//! `io.write` uses — so the two never reorder; it is line-buffered on a terminal and fully
//! buffered on pipes and files, and the runtime flushes it before sleeping in the poller and
//! before exiting, so output is never lost or late. HC3 markup in printed text is rendered as
//! colour on a terminal (unless `NO_COLOR` is set) and stripped otherwise.

use std::ffi::c_int;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use mlua::{Lua, Result, Table, ffi};

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

unsafe extern "C" {
    /// Bytes waiting in a stream's output buffer (glibc and musl, `<stdio_ext.h>`).
    fn __fpending(stream: *mut libc::FILE) -> libc::size_t;
}

/// Flushes C's `stdout` (shared with `io.write`). The loop calls this before every sleep, so
/// an empty buffer is seen without `fflush`'s lock.
pub fn flush_stdout() {
    // SAFETY: see `write_stdout`; `__fpending` only reads the buffer's pointers, and only
    // this thread writes to `stdout`.
    unsafe {
        if __fpending(C_STDOUT) > 0 {
            libc::fflush(C_STDOUT);
        }
    }
}

/// Whether printed markup becomes ANSI colour: stdout is a terminal and `NO_COLOR` is unset.
pub fn colour_enabled() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Whether `print` renders markup as colour (decided once, at registration).
static COLOUR: AtomicBool = AtomicBool::new(false);

/// Adds `core.print`: standard Lua's `print` as a C function (so `debug.getinfo(print).what`
/// is `"C"` and `string.dump(print)` fails, as in stock Lua): `luaL_tolstring` on each argument
/// (numbers, `__tostring` and `__name` behave exactly as in standard Lua), tab-separated, one
/// line through C's `stdout` with HC3 markup rendered.
pub fn register(lua: &Lua, core: &Table) -> Result<()> {
    COLOUR.store(colour_enabled(), Ordering::Relaxed);
    // SAFETY: `print_line` follows the lua_CFunction protocol.
    let print = unsafe { lua.create_c_function(print_line)? };
    core.set("print", print)
}

/// The C function behind `print`.
unsafe extern "C-unwind" fn print_line(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by Lua with a valid state; every index is within `1..=count`.
    unsafe {
        let count = ffi::lua_gettop(state);
        ffi::luaL_checkstack(state, count, c"too many arguments to print".as_ptr());
        // Convert every argument first (a `__tostring` may raise): nothing Rust-owned is alive
        // while Lua could unwind.
        let mut total = 1usize;
        for index in 1..=count {
            let mut len = 0usize;
            ffi::luaL_tolstring(state, index, &mut len);
            total += len + 1;
        }
        let mut line = Vec::with_capacity(total);
        for index in 1..=count {
            if index > 1 {
                line.push(b'\t');
            }
            let mut len = 0usize;
            let text = ffi::lua_tolstring(state, count + index, &mut len);
            line.extend_from_slice(std::slice::from_raw_parts(text.cast::<u8>(), len));
        }
        line.push(b'\n');
        write_stdout(&html::render(&line, COLOUR.load(Ordering::Relaxed)));
    }
    0
}
