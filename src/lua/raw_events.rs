//! Socket events onto a task coroutine's stack without mlua values in between: the listener
//! dispatcher (the prelude's `run_event`), the owner, the event name and plain arguments (nil,
//! booleans, integers, strings) are pushed with the C API, ready for `lua_resume`. This is the
//! path of every TCP chunk and WebSocket message; through `MultiValue` and mlua's resume each
//! event cost about 2,000 more instructions. Tables go the general way
//! (`crate::lua::values::to_lua_multi`).

use std::ffi::{c_char, c_int};

use mlua::ffi;
use mlua::{Lua, Result};

use crate::event::Val;

/// True if every value can be pushed by [`push_event`] (no tables).
pub fn all_plain(args: &[Val]) -> bool {
    args.iter()
        .all(|value| !matches!(value, Val::Record(_) | Val::Map(_)))
}

/// Empties coroutine `thread` and pushes on it the function in registry slot `dispatcher`,
/// then `owner`, `event` and `args`; returns the number of arguments above the function.
///
/// # Safety
/// `thread` must be a coroutine of `lua` that is not running (new or finished), and `args`
/// must hold no tables ([`all_plain`]).
pub unsafe fn push_event(
    lua: &Lua,
    thread: *mut ffi::lua_State,
    dispatcher: c_int,
    owner: u64,
    event: &'static str,
    args: &[Val],
) -> Result<c_int> {
    let nargs = 2 + args.len() as c_int;
    // SAFETY: the values are made on mlua's protected state (an allocation failure is a Lua
    // error caught around this closure, which owns nothing) and moved to `thread` once its
    // stack has room; `lua_checkstack` reports failure instead of raising.
    unsafe {
        ffi::lua_settop(thread, 0);
        lua.exec_raw::<()>((), |state| {
            ffi::luaL_checkstack(state, nargs + 1, std::ptr::null());
            ffi::lua_rawgeti(
                state,
                ffi::LUA_REGISTRYINDEX,
                dispatcher as ffi::lua_Integer,
            );
            ffi::lua_pushinteger(state, owner as ffi::lua_Integer);
            push_bytes(state, event.as_bytes());
            for value in args {
                match value {
                    Val::Bool(flag) => ffi::lua_pushboolean(state, c_int::from(*flag)),
                    Val::Int(number) => ffi::lua_pushinteger(state, *number),
                    Val::Bytes(bytes) => push_bytes(state, bytes),
                    Val::Text(text) => push_bytes(state, text.as_bytes()),
                    Val::Nil | Val::Record(_) | Val::Map(_) => ffi::lua_pushnil(state),
                }
            }
            if ffi::lua_checkstack(thread, nargs + 1) == 0 {
                ffi::luaL_error(state, c"stack overflow (event arguments)".as_ptr());
            }
            ffi::lua_xmove(state, thread, nargs + 1);
        })?;
    }
    Ok(nargs)
}

/// Pushes `bytes` as a Lua string.
unsafe fn push_bytes(state: *mut ffi::lua_State, bytes: &[u8]) {
    // SAFETY: `state` has room (checked by the caller); Lua copies the bytes.
    unsafe {
        ffi::lua_pushlstring(state, bytes.as_ptr() as *const c_char, bytes.len());
    }
}
