//! What the C fast paths share (`setTimeout`/`setInterval` in timers.rs, `tcp_write.rs`,
//! `ws_send.rs`, `http_respond.rs`): each is a C closure over its slower version (Lua, or an
//! mlua function) and a userdata holding the reactor (`fast_closure` makes the last three;
//! the timers' closures also hold the callback tables). The common call is served in C; any
//! other is handed, arguments and all, to the slower version, which checks, explains and
//! raises at the caller's line.

use std::ffi::c_int;

use mlua::ffi::{self, lua_State};
use mlua::{Function, Lua, Result};

use crate::sockets::SharedReactor;

/// Where a closure made by [`fast_closure`] finds its slower version.
pub(super) const SLOW_PATH: c_int = ffi::lua_upvalueindex(1);
/// Where a closure made by [`fast_closure`] finds the reactor.
pub(super) const REACTOR: c_int = ffi::lua_upvalueindex(2);

/// The C function `fast` as a closure over `slow` ([`SLOW_PATH`]) and the reactor
/// ([`REACTOR`]).
pub(super) fn fast_closure(
    lua: &Lua,
    reactor: &SharedReactor,
    slow: Function,
    fast: ffi::lua_CFunction,
) -> Result<Function> {
    let reactor = reactor.clone();
    // SAFETY: the closure consumes its argument `slow` and the reactor userdata as the two
    // upvalues of the one closure it leaves.
    unsafe {
        lua.exec_raw::<Function>(slow, move |state| {
            push_reactor(state, reactor);
            ffi::lua_pushcclosure(state, fast, 2);
        })
    }
}

/// Pushes a userdata that owns a clone of the reactor handle (dropped by its `__gc`).
pub(super) unsafe fn push_reactor(state: *mut lua_State, reactor: SharedReactor) {
    // SAFETY: the block is sized and aligned for an `Rc` (Lua aligns userdata for any C type);
    // it is written once here and dropped once by `drop_reactor`.
    unsafe {
        let block = ffi::lua_newuserdatauv(state, std::mem::size_of::<SharedReactor>(), 0);
        std::ptr::write(block as *mut SharedReactor, reactor);
        ffi::lua_createtable(state, 0, 1);
        ffi::lua_pushcfunction(state, drop_reactor);
        ffi::lua_setfield(state, -2, c"__gc".as_ptr());
        ffi::lua_setmetatable(state, -2);
    }
}

unsafe extern "C-unwind" fn drop_reactor(state: *mut lua_State) -> c_int {
    // SAFETY: called once by the collector on the userdata `push_reactor` made.
    unsafe {
        let block = ffi::lua_touserdata(state, 1) as *mut SharedReactor;
        if !block.is_null() {
            std::ptr::drop_in_place(block);
        }
    }
    0
}

/// The reactor in the userdata at `index` (an upvalue `push_reactor` made).
pub(super) unsafe fn reactor_at<'a>(
    state: *mut lua_State,
    index: c_int,
) -> Option<&'a SharedReactor> {
    // SAFETY: the value at `index` is the userdata `push_reactor` made, alive as an upvalue
    // for as long as the closure runs.
    unsafe { (ffi::lua_touserdata(state, index) as *const SharedReactor).as_ref() }
}

/// Calls the function at `slow` (an upvalue) with this call's arguments, the whole stack, and
/// returns the count of its `nresults` results (`LUA_MULTRET`: all of them).
pub(super) unsafe fn call_slow_path(state: *mut lua_State, slow: c_int, nresults: c_int) -> c_int {
    // SAFETY: the arguments are the whole stack; `slow` is a function upvalue.
    unsafe {
        let nargs = ffi::lua_gettop(state);
        ffi::lua_pushvalue(state, slow);
        ffi::lua_rotate(state, 1, 1);
        ffi::lua_call(state, nargs, nresults);
        ffi::lua_gettop(state)
    }
}

/// The value at `index` if it is an integer of at least `min`.
pub(super) unsafe fn integer_at(state: *mut lua_State, index: c_int, min: u64) -> Option<u64> {
    // SAFETY: the caller guarantees `index` exists.
    unsafe {
        if ffi::lua_isinteger(state, index) == 0 {
            return None;
        }
        u64::try_from(ffi::lua_tointegerx(state, index, std::ptr::null_mut()))
            .ok()
            .filter(|&value| value >= min)
    }
}
