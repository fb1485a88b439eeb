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

use super::fast_path::{call_slow_path, integer_at, push_reactor, reactor_at};
use crate::sockets::SharedReactor;

const SLOW_PATH: c_int = ffi::lua_upvalueindex(1);
const REACTOR: c_int = ffi::lua_upvalueindex(2);

/// `(websocket_send, websocket_server_send)` with the Lua versions `slow_client` and
/// `slow_server` behind their fast paths.
pub fn ws_send_functions(
    lua: &Lua,
    reactor: &SharedReactor,
    slow_client: Function,
    slow_server: Function,
) -> Result<(Function, Function)> {
    let reactor = reactor.clone();
    // SAFETY: the closure leaves exactly the two closures it makes where its two arguments
    // were, each over one of them and a reactor userdata (their two upvalues).
    unsafe {
        lua.exec_raw::<(Function, Function)>((slow_client, slow_server), move |state| {
            let base = ffi::lua_gettop(state) - 1;
            for (slow, function) in [
                (base, client_send as ffi::lua_CFunction),
                (base + 1, server_send),
            ] {
                ffi::lua_pushvalue(state, slow);
                push_reactor(state, reactor.clone());
                ffi::lua_pushcclosure(state, function, 2);
            }
            // Leave only the two closures above this call's arguments.
            ffi::lua_rotate(state, base, 2);
            ffi::lua_settop(state, base + 1);
        })
    }
}

/// `_PY.websocket_send(id, data [, binary])`.
unsafe extern "C-unwind" fn client_send(state: *mut lua_State) -> c_int {
    // SAFETY: called by Lua with the upvalues `ws_send_functions` set.
    unsafe { send(state, 1) }
}

/// `_PY.websocket_server_send(server, client, data [, binary])`: the server id is only
/// checked, as in the Lua version; the client id names the connection.
unsafe extern "C-unwind" fn server_send(state: *mut lua_State) -> c_int {
    // SAFETY: called by Lua with the upvalues `ws_send_functions` set; index 1 exists when
    // `send` looks at it (it checks `lua_gettop` first).
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
    // SAFETY: every index used is checked against `lua_gettop` or is an upvalue. No Rust
    // value with a destructor is alive while Lua may raise (`push_failure` protects its push).
    unsafe {
        let nargs = ffi::lua_gettop(state);
        let data_at = at + 1;
        let binary = match nargs - data_at {
            0 => Some(false),
            1 => match ffi::lua_type(state, data_at + 1) {
                ffi::LUA_TNIL => Some(false),
                ffi::LUA_TBOOLEAN => Some(ffi::lua_toboolean(state, data_at + 1) != 0),
                _ => None,
            },
            _ => None,
        };
        let (Some(binary), Some(id)) = (binary, integer_at(state, at, 1)) else {
            return call_slow_path(state, SLOW_PATH, ffi::LUA_MULTRET);
        };
        if ffi::lua_type(state, data_at) != ffi::LUA_TSTRING {
            return call_slow_path(state, SLOW_PATH, ffi::LUA_MULTRET);
        }
        let mut len = 0usize;
        let bytes = ffi::lua_tolstring(state, data_at, &mut len) as *const u8;
        let data = std::slice::from_raw_parts(bytes, len);
        let Some(reactor) = reactor_at(state, REACTOR) else {
            return call_slow_path(state, SLOW_PATH, ffi::LUA_MULTRET);
        };
        let result = match reactor.try_borrow_mut() {
            Ok(mut reactor) => reactor.net.ws_send(id, data, binary),
            Err(_) => return call_slow_path(state, SLOW_PATH, ffi::LUA_MULTRET),
        };
        match result {
            Ok(()) => {
                ffi::lua_pushboolean(state, 1);
                1
            }
            Err(error) => {
                let message = error.to_string();
                drop(error);
                push_failure(state, message)
            }
        }
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
