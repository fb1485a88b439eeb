//! `warn` as in the standard `lua` program: warnings are off until a script sends `"@on"`
//! (`"@off"` turns them off again), and each warning is written to stderr as
//! `Lua warning: <message>` with its pieces joined. mlua creates the state without the auxiliary
//! library's warning function, so without this `warn` would print nothing at all.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

use mlua::{Lua, ffi};

/// Warnings are ignored (the default, as in `lua`).
const OFF: u8 = 0;
/// Ready to start a new warning.
const ON: u8 = 1;
/// The previous piece asked to be continued.
const CONTINUED: u8 = 2;

/// The warning state (plua has one Lua state per process).
static MODE: AtomicU8 = AtomicU8::new(OFF);

/// Installs the warning function on the state, with warnings off.
pub fn install(lua: &Lua) {
    MODE.store(OFF, Ordering::Relaxed);
    // SAFETY: the closure only sets the warning function of the live state it is given.
    let _ = unsafe {
        lua.exec_raw::<()>((), |state| {
            ffi::lua_setwarnf(state, Some(warn), std::ptr::null_mut());
        })
    };
}

/// The warning function (`lauxlib.c`'s `warnfoff`/`warnfon`/`warnfcont` in one).
unsafe extern "C-unwind" fn warn(_ud: *mut c_void, message: *const c_char, to_continue: c_int) {
    // SAFETY: Lua passes a NUL-terminated message.
    let message = unsafe { CStr::from_ptr(message) }.to_bytes();
    let mode = MODE.load(Ordering::Relaxed);
    if mode != CONTINUED && to_continue == 0 && message.first() == Some(&b'@') {
        match &message[1..] {
            b"off" => MODE.store(OFF, Ordering::Relaxed),
            b"on" => MODE.store(ON, Ordering::Relaxed),
            _ => {}
        }
        return;
    }
    if mode == OFF {
        return;
    }
    // Warnings go out after what the script printed so far, as with `lua`'s unbuffered stderr.
    crate::api::output::flush_stdout();
    let mut stderr = std::io::stderr().lock();
    if mode == ON {
        let _ = stderr.write_all(b"Lua warning: ");
    }
    let _ = stderr.write_all(message);
    if to_continue != 0 {
        MODE.store(CONTINUED, Ordering::Relaxed);
    } else {
        let _ = stderr.write_all(b"\n");
        MODE.store(ON, Ordering::Relaxed);
    }
}
