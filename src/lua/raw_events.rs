//! Socket events onto a task coroutine's stack without mlua values in between: the listener
//! itself (`listeners[owner][event]`, the prelude's table, looked up with the C API) becomes the
//! coroutine's body and plain arguments (nil, booleans, integers, strings) are pushed above it,
//! ready for `lua_resume`. This is the path of every TCP chunk, UDP datagram and WebSocket
//! message: through `MultiValue`, mlua's resume and the prelude's `run_event` dispatcher each
//! event cost about 2,500 more instructions. Tables go the general way
//! (`crate::lua::values::to_lua_multi` and `run_event`).

use std::ffi::{c_char, c_int};

use mlua::Result;
use mlua::ffi;

use crate::event::Val;

/// True if every value can be pushed by [`push_listener_call`] (no tables).
pub fn all_plain(args: &[Val]) -> bool {
    args.iter()
        .all(|value| !matches!(value, Val::Record(_) | Val::Map(_)))
}

/// Registry slots [`push_listener_call`] reads.
#[derive(Clone, Copy)]
pub struct ListenerSlots {
    /// The prelude's `listeners` table (`listeners[owner][event] = fn`).
    pub listeners: c_int,
    /// The event's name as a Lua string.
    pub event: c_int,
}

/// Empties coroutine `thread` and, if `owner` has a listener for the event, pushes it and then
/// `args` on `thread`: returns `Some(number of arguments)`, or `None` (nothing pushed) when
/// there is no listener. A failure to allocate is the Lua error returned.
///
/// # Safety
/// `thread` must be a coroutine that is not running (new or finished), and `args`
/// must hold no tables ([`all_plain`]).
pub unsafe fn push_listener_call(
    thread: *mut ffi::lua_State,
    slots: ListenerSlots,
    owner: u64,
    args: &[Val],
) -> Result<Option<c_int>> {
    let mut job = PushJob { slots, owner, args };
    // SAFETY: a coroutine that is not running may run a protected C call of its own (as
    // `lua_newthread`'s states do): `push_job` leaves the listener and its arguments as its
    // results, at the bottom of the emptied stack, or nothing. Its errors (out of memory) are
    // caught by `lua_pcall`; the stack has room for the function, its pointer and the error.
    unsafe {
        ffi::lua_settop(thread, 0);
        if ffi::lua_checkstack(thread, 3) == 0 {
            return Err(mlua::Error::runtime("stack overflow (event arguments)"));
        }
        ffi::lua_pushcfunction(thread, push_job);
        ffi::lua_pushlightuserdata(thread, (&raw mut job).cast());
        if ffi::lua_pcall(thread, 1, ffi::LUA_MULTRET, 0) != ffi::LUA_OK {
            let message = lua_message(thread);
            ffi::lua_settop(thread, 0);
            return Err(mlua::Error::runtime(message));
        }
        match ffi::lua_gettop(thread) {
            0 => Ok(None),
            pushed => Ok(Some(pushed - 1)),
        }
    }
}

/// What [`push_job`] pushes, behind the light userdata it gets.
struct PushJob<'a> {
    slots: ListenerSlots,
    owner: u64,
    args: &'a [Val],
}

/// Looks up `listeners[owner][event]` and returns it with the event's arguments, or nothing.
unsafe extern "C-unwind" fn push_job(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by `push_listener_call` only, with a `PushJob` that outlives the call;
    // the lookups are raw (no metamethods run).
    unsafe {
        let job = &*(ffi::lua_touserdata(state, 1) as *const PushJob);
        let nargs = job.args.len() as c_int;
        ffi::luaL_checkstack(state, nargs + 3, std::ptr::null());
        ffi::lua_rawgeti(
            state,
            ffi::LUA_REGISTRYINDEX,
            job.slots.listeners as ffi::lua_Integer,
        );
        if ffi::lua_rawgeti(state, -1, job.owner as ffi::lua_Integer) != ffi::LUA_TTABLE {
            return 0;
        }
        ffi::lua_rawgeti(
            state,
            ffi::LUA_REGISTRYINDEX,
            job.slots.event as ffi::lua_Integer,
        );
        if ffi::lua_rawget(state, -2) != ffi::LUA_TFUNCTION {
            return 0;
        }
        for value in job.args {
            match value {
                Val::Bool(flag) => ffi::lua_pushboolean(state, c_int::from(*flag)),
                Val::Int(number) => ffi::lua_pushinteger(state, *number),
                Val::Bytes(bytes) => push_bytes(state, bytes),
                Val::Text(text) => push_bytes(state, text.as_bytes()),
                Val::Nil | Val::Record(_) | Val::Map(_) => ffi::lua_pushnil(state),
            }
        }
        nargs + 1
    }
}

/// The message of the error object on top of `state`'s stack.
unsafe fn lua_message(state: *mut ffi::lua_State) -> String {
    // SAFETY: the error object is on top; `lua_tolstring` on a non-string gives NULL.
    unsafe {
        let mut len = 0;
        let text = ffi::lua_tolstring(state, -1, &mut len);
        if text.is_null() {
            return "error while passing event arguments".to_owned();
        }
        String::from_utf8_lossy(std::slice::from_raw_parts(text.cast(), len)).into_owned()
    }
}

/// Pushes `bytes` as a Lua string.
unsafe fn push_bytes(state: *mut ffi::lua_State, bytes: &[u8]) {
    // SAFETY: `state` has room (checked by the caller); Lua copies the bytes.
    unsafe {
        ffi::lua_pushlstring(state, bytes.as_ptr() as *const c_char, bytes.len());
    }
}
