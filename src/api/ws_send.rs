//! `_PY.websocket_send` and `_PY.websocket_server_send` as C functions. The common call
//! (integer ids, a string, and at most a boolean for `binary`) hands the bytes to the connection
//! with no Lua frame, argument checks in Lua or mlua callback in between: an echo server's
//! message took 13.3k instructions before and 8.8k after (callgrind, 100 connections), and
//! 13 % less CPU. Any other call goes to the Lua versions in
//! `lua_stdlib/plua/websocket.lua`, which check the arguments and raise at the caller's line.
//! Both return what the Lua versions return: `true`, or `false` and the message.

use std::ffi::{c_int, c_void};

use mlua::ffi::{self, lua_State};
use mlua::{Function, Lua, Result};

use super::fast_path::{REACTOR, SLOW_PATH, call_slow_path, fast_closure, integer_at, reactor_at};
use crate::sockets::SharedReactor;
use crate::ws::error::SendError;

/// `(websocket_send, websocket_server_send)` with the Lua versions `slow_client` and
/// `slow_server` behind their fast paths.
pub fn ws_send_functions(
    lua: &Lua,
    reactor: &SharedReactor,
    slow_client: Function,
    slow_server: Function,
) -> Result<(Function, Function)> {
    Ok((
        fast_closure(lua, reactor, slow_client, client_send)?,
        fast_closure(lua, reactor, slow_server, server_send)?,
    ))
}

/// `_PY.websocket_send(id, data [, binary])`.
unsafe extern "C-unwind" fn client_send(state: *mut lua_State) -> c_int {
    // SAFETY: called by Lua with the upvalues `fast_closure` set.
    unsafe { send(state, 1) }
}

/// `_PY.websocket_server_send(server, client, data [, binary])`: the server id is only
/// checked, as in the Lua version; the client id names the connection.
unsafe extern "C-unwind" fn server_send(state: *mut lua_State) -> c_int {
    // SAFETY: called by Lua with the upvalues `fast_closure` set; index 1 is read only when
    // it exists.
    unsafe {
        if ffi::lua_gettop(state) >= 1 && integer_at(state, 1, 1).is_none() {
            return call_slow_path(state, SLOW_PATH, ffi::LUA_MULTRET);
        }
        send(state, 2)
    }
}

/// The common call with the connection id at `at`, the data after it and `binary` after that;
/// anything else goes to the Lua version.
unsafe fn send(state: *mut lua_State, at: c_int) -> c_int {
    // SAFETY: no Rust value with a destructor is alive while Lua may raise (`push_failure`
    // protects its push).
    unsafe {
        match plain_send(state, at) {
            Some(Ok(())) => {
                ffi::lua_pushboolean(state, 1);
                1
            }
            Some(Err(error)) => {
                let message = error.to_string();
                drop(error);
                push_failure(state, message)
            }
            None => call_slow_path(state, SLOW_PATH, ffi::LUA_MULTRET),
        }
    }
}

/// Sends a common call's data; `None` for any other call, or when the reactor is busy.
unsafe fn plain_send(
    state: *mut lua_State,
    at: c_int,
) -> Option<std::result::Result<(), SendError>> {
    // SAFETY: every index used is checked against `lua_gettop` or is an upvalue; the data
    // string stays on the stack while it is sent.
    unsafe {
        let nargs = ffi::lua_gettop(state);
        let data_at = at + 1;
        let binary = match nargs - data_at {
            0 => false,
            1 => match ffi::lua_type(state, data_at + 1) {
                ffi::LUA_TNIL => false,
                ffi::LUA_TBOOLEAN => ffi::lua_toboolean(state, data_at + 1) != 0,
                _ => return None,
            },
            _ => return None,
        };
        let id = integer_at(state, at, 1)?;
        if ffi::lua_type(state, data_at) != ffi::LUA_TSTRING {
            return None;
        }
        let mut len = 0usize;
        let bytes = ffi::lua_tolstring(state, data_at, &mut len) as *const u8;
        let data = std::slice::from_raw_parts(bytes, len);
        let mut reactor = reactor_at(state, REACTOR)?.try_borrow_mut().ok()?;
        Some(reactor.net.ws_send(id, data, binary))
    }
}

/// Returns `false, message`. The string is pushed inside a protected call, so a memory error
/// cannot jump over `message`'s destructor; it is raised once `message` is dropped.
unsafe fn push_failure(state: *mut lua_State, message: String) -> c_int {
    // SAFETY: `push_message` gets a pointer to `message`, alive until after the call.
    unsafe {
        ffi::lua_pushboolean(state, 0);
        ffi::lua_pushcfunction(state, push_message);
        ffi::lua_pushlightuserdata(state, &message as *const String as *mut c_void);
        let status = ffi::lua_pcall(state, 1, 1, 0);
        drop(message);
        if status != ffi::LUA_OK {
            ffi::lua_error(state);
        }
        2
    }
}

unsafe extern "C-unwind" fn push_message(state: *mut lua_State) -> c_int {
    // SAFETY: argument 1 is the light userdata `push_failure` made from a live `String`.
    unsafe {
        let message = &*(ffi::lua_touserdata(state, 1) as *const String);
        ffi::lua_pushlstring(state, message.as_ptr() as *const _, message.len());
        1
    }
}
