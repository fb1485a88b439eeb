//! The Rust primitives behind the timer functions. `lua_stdlib/plua/prelude.lua` wraps them into
//! `setTimeout`, `clearTimeout`, `setInterval`, `clearInterval` and `_PY.sleep`, where argument
//! checks can raise errors at the caller's line; these only talk to the reactor's timer set.

use mlua::{Lua, Result, Table, Value};

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

/// A Lua number as a handle id, if it is a positive integer.
fn as_id(value: f64) -> Option<u64> {
    (value >= 1.0 && value.fract() == 0.0 && value < 2f64.powi(53)).then_some(value as u64)
}
