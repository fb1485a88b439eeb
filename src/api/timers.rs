//! The Rust primitives behind the timer functions. `lua_stdlib/plua/prelude.lua` wraps them into
//! `clearTimeout`, `clearInterval` and `_PY.sleep`, where argument checks can raise errors at the
//! caller's line; these only talk to the reactor's timer set.
//!
//! `setTimeout` and `setInterval` themselves are C functions made here (`timer_functions`): the
//! common call (a function and a plain delay) stores the callback and schedules the timer with no
//! Lua frame, vararg copy or mlua callback in between, which was most of a timer's cost. Any
//! other call goes to the prelude's Lua version, which checks the arguments, warns or raises at
//! the caller's line, and schedules as well.

use std::ffi::c_int;

use mlua::ffi::{self, lua_State};
use mlua::{Function, Lua, Result, Table, Value};

use super::fast_path::{call_slow_path, push_reactor, reactor_at};
use crate::reactor::duration;
use crate::reactor::timers::TimerAction;
use crate::reactor::wheel::MAX_DELAY_MS;
use crate::sockets::SharedReactor;

/// Builds the table of timer primitives handed to the prelude.
pub fn primitives(lua: &Lua, reactor: &SharedReactor) -> Result<Table> {
    let core = lua.create_table()?;
    core.set("MAX_DELAY", MAX_DELAY_MS as f64)?;

    for (name, repeat, action) in [
        ("timeout_add", false, TimerAction::Callback),
        ("interval_add", true, TimerAction::Callback),
        ("wakeup_add", false, TimerAction::Resume),
    ] {
        let r = reactor.clone();
        let add = lua.create_function(move |_, ms: f64| {
            let mut reactor = r.borrow_mut();
            let id = reactor.ids.next_id();
            reactor.timers.add(id, ms, repeat, action);
            Ok(id)
        })?;
        core.set(name, add)?;
    }

    let r = reactor.clone();
    core.set(
        "timer_cancel",
        lua.create_function(move |_, id: f64| {
            Ok(as_id(id).is_some_and(|id| r.borrow_mut().timers.cancel(id, TimerAction::Callback)))
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "set_referenced",
        lua.create_function(move |_, (id, referenced): (Value, bool)| {
            let id = match id {
                Value::Integer(id) => u64::try_from(id).ok(),
                Value::Number(id) => as_id(id),
                _ => None,
            };
            Ok(id.is_some_and(|id| r.borrow_mut().set_referenced(id, referenced)))
        })?,
    )?;

    let r = reactor.clone();
    core.set(
        "has_timeouts",
        lua.create_function(move |_, ()| Ok(r.borrow().timers.has_timeouts()))?,
    )?;
    let r = reactor.clone();
    core.set(
        "has_intervals",
        lua.create_function(move |_, ()| Ok(r.borrow().timers.has_intervals()))?,
    )?;

    let r = reactor.clone();
    core.set(
        "timer_functions",
        lua.create_function(
            move |lua, (callbacks, arguments, slow_timeout, slow_interval)| {
                timer_functions(lua, &r, callbacks, arguments, slow_timeout, slow_interval)
            },
        )?,
    )?;

    core.set(
        "warn",
        lua.create_function(|_, message: String| {
            eprintln!("plua: warning: {message}");
            Ok(())
        })?,
    )?;
    core.set(
        "block_sleep",
        lua.create_function(|_, ms: f64| {
            if let Some(pause) = duration::from_millis(ms).filter(|d| !d.is_zero()) {
                crate::api::output::flush_stdout();
                std::thread::sleep(pause);
            }
            Ok(())
        })?,
    )?;
    Ok(core)
}

/// Upvalues of the C `setTimeout`/`setInterval`.
const CALLBACKS: c_int = ffi::lua_upvalueindex(1);
const ARGUMENTS: c_int = ffi::lua_upvalueindex(2);
const SLOW_PATH: c_int = ffi::lua_upvalueindex(3);
const REACTOR: c_int = ffi::lua_upvalueindex(4);

/// `core.timer_functions(callbacks, arguments, slow_timeout, slow_interval)` → `setTimeout,
/// setInterval`: C closures over the prelude's `callbacks[id] = fn` and `arguments[id] =
/// table.pack(...)` tables, the Lua versions for calls off the common path, and the reactor.
fn timer_functions(
    lua: &Lua,
    reactor: &SharedReactor,
    callbacks: Table,
    arguments: Table,
    slow_timeout: Function,
    slow_interval: Function,
) -> Result<(Function, Function)> {
    let reactor = reactor.clone();
    // SAFETY: the closure pushes exactly the two closures it makes; `push_reactor` leaves the
    // reactor userdata on the stack, consumed as an upvalue.
    unsafe {
        lua.exec_raw::<(Function, Function)>(
            (callbacks, arguments, slow_timeout, slow_interval),
            move |state| {
                // Stack: callbacks, arguments, slow_timeout, slow_interval (from the bottom of
                // this call's part of the stack).
                let base = ffi::lua_gettop(state) - 3;
                push_reactor(state, reactor);
                let reactor_at = ffi::lua_gettop(state);
                for (slow, function) in [
                    (base + 2, set_timeout as ffi::lua_CFunction),
                    (base + 3, set_interval),
                ] {
                    ffi::lua_pushvalue(state, base);
                    ffi::lua_pushvalue(state, base + 1);
                    ffi::lua_pushvalue(state, slow);
                    ffi::lua_pushvalue(state, reactor_at);
                    ffi::lua_pushcclosure(state, function, 4);
                }
                // Leave only the two closures above this call's arguments.
                ffi::lua_rotate(state, base, 2);
                ffi::lua_settop(state, base + 1);
            },
        )
    }
}

unsafe extern "C-unwind" fn set_timeout(state: *mut lua_State) -> c_int {
    // SAFETY: called by Lua with the upvalues `timer_functions` set.
    unsafe { set_timer(state, false) }
}

unsafe extern "C-unwind" fn set_interval(state: *mut lua_State) -> c_int {
    // SAFETY: as `set_timeout`.
    unsafe { set_timer(state, true) }
}

/// `setTimeout(fn, ms, ...)` / `setInterval(fn, ms, ...)`. The fast path holds no Rust value
/// with a destructor while it calls into Lua (a memory error may unwind through it).
unsafe fn set_timer(state: *mut lua_State, repeat: bool) -> c_int {
    // SAFETY: called by Lua; every index used is checked against `lua_gettop` or is an upvalue.
    unsafe {
        let nargs = ffi::lua_gettop(state);
        let delay = plain_delay(state, nargs);
        let reactor = reactor_at(state, REACTOR);
        let id = match (delay, reactor) {
            (Some(_), Some(reactor)) => next_timer_id(reactor),
            _ => None,
        };
        let (Some(delay), Some(id), Some(reactor)) = (delay, id, reactor) else {
            // Anything unusual: the Lua version checks, explains and schedules.
            return call_slow_path(state, SLOW_PATH, 1);
        };
        // The callback and its arguments are stored before the timer exists, so a memory error
        // here leaves no timer without a callback.
        ffi::lua_pushvalue(state, 1);
        ffi::lua_rawseti(state, CALLBACKS, id as ffi::lua_Integer);
        if nargs > 2 {
            let extra = nargs - 2;
            ffi::lua_createtable(state, extra, 1);
            for index in 1..=extra {
                ffi::lua_pushvalue(state, index + 2);
                ffi::lua_rawseti(state, -2, index as ffi::lua_Integer);
            }
            ffi::lua_pushinteger(state, extra as ffi::lua_Integer);
            ffi::lua_setfield(state, -2, c"n".as_ptr());
            ffi::lua_rawseti(state, ARGUMENTS, id as ffi::lua_Integer);
        }
        schedule(reactor, id, delay, repeat);
        ffi::lua_pushinteger(state, id as ffi::lua_Integer);
        1
    }
}

/// The delay of a common call: a function first and a number in `0..=MAX_DELAY` second.
unsafe fn plain_delay(state: *mut lua_State, nargs: c_int) -> Option<f64> {
    // SAFETY: indices 1 and 2 exist when `nargs >= 2`.
    unsafe {
        if nargs < 2
            || ffi::lua_type(state, 1) != ffi::LUA_TFUNCTION
            || ffi::lua_type(state, 2) != ffi::LUA_TNUMBER
        {
            return None;
        }
        let delay = ffi::lua_tonumberx(state, 2, std::ptr::null_mut());
        (0.0..=MAX_DELAY_MS as f64)
            .contains(&delay)
            .then_some(delay)
    }
}

/// A fresh timer id, or `None` when the reactor is busy (the slow path reports that).
fn next_timer_id(reactor: &SharedReactor) -> Option<u64> {
    let mut reactor = reactor.try_borrow_mut().ok()?;
    Some(reactor.ids.next_id())
}

fn schedule(reactor: &SharedReactor, id: u64, delay: f64, repeat: bool) {
    if let Ok(mut reactor) = reactor.try_borrow_mut() {
        reactor.timers.add(id, delay, repeat, TimerAction::Callback);
    }
}

/// A Lua number as a handle id, if it is a positive integer.
fn as_id(value: f64) -> Option<u64> {
    (value >= 1.0 && value.fract() == 0.0 && value < 2f64.powi(53)).then_some(value as u64)
}
