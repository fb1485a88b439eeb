//! `_PY.tcp_write` as a C function: the common call, an integer connection id and a string
//! (no callback), queues the bytes on the connection with no Lua frame or mlua callback in
//! between, which was a third of an echo server's user time per message. Any other call goes
//! to the Lua version in `lua_stdlib/plua/sockets.lua`, which checks the arguments, raises at
//! the caller's line and handles callbacks.

use std::ffi::c_int;

use mlua::ffi::{self, lua_State};
use mlua::{Function, Lua, Result};

use super::fast_path::{REACTOR, SLOW_PATH, call_slow_path, fast_closure, integer_at, reactor_at};
use crate::sockets::SharedReactor;

/// `_PY.tcp_write` with `slow` (the Lua version) behind its fast path.
pub fn tcp_write_function(lua: &Lua, reactor: &SharedReactor, slow: Function) -> Result<Function> {
    fast_closure(lua, reactor, slow, tcp_write)
}

/// `_PY.tcp_write(id, data [, cb])`; returns the operation id, as the Lua version does. The
/// fast path holds no Rust value with a destructor while it calls into Lua.
unsafe extern "C-unwind" fn tcp_write(state: *mut lua_State) -> c_int {
    // SAFETY: called by Lua with the upvalues `fast_closure` set; every index used is
    // checked against `lua_gettop` or is an upvalue.
    unsafe {
        let nargs = ffi::lua_gettop(state);
        let op = match plain_call(state, nargs) {
            Some((id, data)) => queue(state, id, data),
            None => None,
        };
        match op {
            Some(op) => {
                ffi::lua_pushinteger(state, op as ffi::lua_Integer);
            }
            // Anything unusual: the Lua version checks, explains and writes.
            None => return call_slow_path(state, SLOW_PATH, 1),
        }
        1
    }
}

/// The id and bytes of a common call: a positive integer, a string and at most a nil.
unsafe fn plain_call<'a>(state: *mut lua_State, nargs: c_int) -> Option<(u64, &'a [u8])> {
    // SAFETY: indices up to `nargs` exist; the string stays on the stack (and alive) while
    // the caller uses the slice.
    unsafe {
        let plain = (nargs == 2 || (nargs == 3 && ffi::lua_type(state, 3) == ffi::LUA_TNIL))
            && ffi::lua_type(state, 2) == ffi::LUA_TSTRING;
        if !plain {
            return None;
        }
        let id = integer_at(state, 1, 1)?;
        let mut len = 0usize;
        let bytes = ffi::lua_tolstring(state, 2, &mut len) as *const u8;
        Some((id, std::slice::from_raw_parts(bytes, len)))
    }
}

/// Queues `data` on connection `id` as a new operation nobody waits for; `None` when the
/// reactor is busy (the slow path reports that).
unsafe fn queue(state: *mut lua_State, id: u64, data: &[u8]) -> Option<u64> {
    // SAFETY: the upvalue is the userdata `push_reactor` made.
    let reactor = unsafe { reactor_at(state, REACTOR) }?;
    let mut reactor = reactor.try_borrow_mut().ok()?;
    let op = reactor.ids.next_id();
    let (net, mut ctx) = reactor.net();
    net.write(&mut ctx, id, data, None);
    Some(op)
}
