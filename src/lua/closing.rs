//! Ending a run the way the standard `lua` program does: closing the state (`lua_close`, so
//! every pending `__gc` finalizer runs) at the end of a run and for `os.exit(code, true)`, and
//! the `os.exit` that flushes output and restores the terminal before the process ends.
//!
//! `os.exit` called by a finalizer (or a `__close`) while the state is being closed does not
//! close it again (a second `lua_close` would free everything twice): it records the exit
//! status and returns, and closing goes on with the remaining finalizers, as in `lua`; the
//! process then exits with that status.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use mlua::{Lua, Result, Table, Value};

use crate::api::output::flush_stdout;

/// The state is being closed (`lua_close` is running).
static CLOSING: AtomicBool = AtomicBool::new(false);
/// The status an `os.exit` asked for while the state was closing ([`NO_STATUS`]: none).
static REQUESTED: AtomicI32 = AtomicI32::new(NO_STATUS);
const NO_STATUS: i32 = i32::MIN;

/// Closes the state as the standard `lua` program does at exit (`lua_close`: every pending
/// `__gc` finalizer runs), but while the mlua handle is still whole, so that finalizers may call
/// plua's functions (`print`, `setTimeout`) instead of meeting a destroyed instance. A second
/// call (from a finalizer) does nothing.
///
/// # Safety
/// The state is gone afterwards: nothing that holds a Lua value (this `Lua`, its clones,
/// `Function`/`Table` handles) may be used or dropped again; the caller forgets them.
pub unsafe fn close_state(lua: &Lua) {
    if CLOSING.swap(true, Ordering::SeqCst) {
        return;
    }
    let mut state: *mut mlua::ffi::lua_State = std::ptr::null_mut();
    // SAFETY: the closure only copies the pointer of a live thread of this state.
    let captured = unsafe { lua.exec_raw::<()>((), |raw| state = raw) };
    if captured.is_ok() && !state.is_null() {
        // SAFETY: `lua_close` closes the whole state from any of its threads; the caller
        // guarantees nobody touches the state afterwards.
        unsafe { mlua::ffi::lua_close(state) };
    }
}

/// The exit status an `os.exit` called by a finalizer asked for while the state was closing.
pub fn status_requested_while_closing() -> Option<i32> {
    match REQUESTED.load(Ordering::SeqCst) {
        NO_STATUS => None,
        status => Some(status),
    }
}

/// Replaces `os.exit`: `os.exit(true|nil)` → 0, `os.exit(false)` → 1, `os.exit(n)` → n; with a
/// true second argument the state is closed first (finalizers run). Buffered output is flushed
/// and stdin restored before the process ends.
pub fn override_os_exit(lua: &Lua) -> Result<()> {
    let os: Table = lua.globals().get("os")?;
    let exit = lua.create_function(|lua, (code, close): (Value, Value)| -> Result<()> {
        let code = match code {
            Value::Nil | Value::Boolean(true) => 0,
            Value::Boolean(false) => 1,
            Value::Integer(n) => n as i32,
            Value::Number(n) => n as i32,
            other => {
                return Err(mlua::Error::runtime(format!(
                    "os.exit: bad argument #1 (number or boolean expected, got {})",
                    other.type_name()
                )));
            }
        };
        if CLOSING.load(Ordering::SeqCst) {
            REQUESTED.store(code, Ordering::SeqCst);
            return Ok(());
        }
        crate::repl::restore_stdin();
        flush_stdout();
        if !matches!(close, Value::Nil | Value::Boolean(false)) {
            // SAFETY: `exit_closing` ends the process without returning to Lua.
            let _ = unsafe { lua.exec_raw::<()>((), |state| exit_closing(state, code)) };
        }
        std::process::exit(code);
    })?;
    os.set("exit", exit)
}

/// `os.exit(code, true)` from `state`: closes the to-be-closed variables pending in the calling
/// coroutine (the main chunk is one: `lua_close` alone would close only the main thread's),
/// then the state, then ends the process.
///
/// # Safety
/// Never returns: the calling coroutine's stack is unwound under the running C function.
unsafe fn exit_closing(state: *mut mlua::ffi::lua_State, code: i32) -> ! {
    use mlua::ffi;
    // SAFETY: `state` is the live thread running os.exit; `lua_pushthread` tells whether it is
    // the main thread. Resetting the running coroutine is what `lua_close` does for the main
    // thread; nothing of it is used afterwards, as the process ends here.
    // From here on an os.exit from a `__close` or `__gc` only records its status.
    CLOSING.store(true, Ordering::SeqCst);
    unsafe {
        let is_main = ffi::lua_pushthread(state) == 1;
        ffi::lua_pop(state, 1);
        if !is_main {
            ffi::lua_closethread(state, std::ptr::null_mut());
        }
        ffi::lua_close(state);
    }
    flush_stdout();
    std::process::exit(status_requested_while_closing().unwrap_or(code));
}
