//! `core.http_respond` as a C function. The common answer of a handler, an integer status in
//! 100–999 and a string body with no headers, goes to the connection with no mlua callback in
//! between; every other call (headers, values to normalise) goes to the mlua version in
//! `api/http.rs`, which it wraps. Both return what that version returns: `true` if the
//! response was delivered, `false` if its connection was gone, `nil` for values the Lua side
//! must normalise first.

use std::ffi::c_int;

use mlua::ffi::{self, lua_State};
use mlua::{Function, Lua, Result};

use super::fast_path::{REACTOR, SLOW_PATH, call_slow_path, fast_closure, integer_at, reactor_at};
use crate::http::response::Response;
use crate::sockets::SharedReactor;

/// `http_respond(conn, seq, status, body, headers)` with `slow` behind its fast path.
pub fn http_respond_function(
    lua: &Lua,
    reactor: &SharedReactor,
    slow: Function,
) -> Result<Function> {
    fast_closure(lua, reactor, slow, http_respond)
}

unsafe extern "C-unwind" fn http_respond(state: *mut lua_State) -> c_int {
    // SAFETY: called by Lua with the upvalues `fast_closure` set; every index used
    // is checked against `lua_gettop`. Nothing that can raise runs while a Rust value with a
    // destructor is alive: the response is sent and dropped before the result is pushed.
    unsafe {
        match respond_plain(state) {
            Some(delivered) => {
                ffi::lua_pushboolean(state, c_int::from(delivered));
                1
            }
            None => call_slow_path(state, SLOW_PATH, 1),
        }
    }
}

/// Sends the common answer (`conn, seq, status, body` and at most a nil); `None` for any
/// other call, or when the reactor is busy.
unsafe fn respond_plain(state: *mut lua_State) -> Option<bool> {
    // SAFETY: indices up to `nargs` exist; the body string stays on the stack while sent.
    unsafe {
        let nargs = ffi::lua_gettop(state);
        if !(nargs == 4 || (nargs == 5 && ffi::lua_type(state, 5) == ffi::LUA_TNIL)) {
            return None;
        }
        let conn = integer_at(state, 1, 0)?;
        let seq = integer_at(state, 2, 0)?;
        let status = integer_at(state, 3, 0).filter(|s| (100..=999).contains(s))?;
        if ffi::lua_type(state, 4) != ffi::LUA_TSTRING {
            return None;
        }
        let mut len = 0usize;
        let bytes = ffi::lua_tolstring(state, 4, &mut len) as *const u8;
        let response = Response {
            status: status as u16,
            headers: Vec::new(),
            body: std::slice::from_raw_parts(bytes, len),
        };
        let reactor = reactor_at(state, REACTOR)?;
        let mut reactor = reactor.try_borrow_mut().ok()?;
        let (net, mut ctx) = reactor.net();
        Some(net.http_respond(&mut ctx, conn, seq, &response))
    }
}
