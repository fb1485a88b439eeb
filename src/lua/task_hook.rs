//! The debugger's seam in task coroutines. A debugger (`lua_stdlib/mobdebug.lua`) sets a *hook
//! installer* through `require("plua.taskhook").set(fn)`; while one is set, the task module
//! passes every coroutine it hands a callback (new or recycled) to it before it runs. Unset, it
//! costs one relaxed atomic load per task.

use std::sync::atomic::{AtomicBool, Ordering};

use mlua::{Function, Lua, Result, Table, Thread};

/// True while a debug hook installer is set (the fast check before looking it up).
static HOOKING: AtomicBool = AtomicBool::new(false);

/// The Lua function that installs the debugger's hook in a task coroutine.
struct HookInstaller(Function);

/// Registers `plua.taskhook` (`set(fn|nil)`, `cwd()`) in `package.loaded`, for the debugger.
pub fn register_module(lua: &Lua) -> Result<()> {
    let module = lua.create_table()?;
    module.set(
        "set",
        lua.create_function(|lua, installer: Option<Function>| {
            HOOKING.store(installer.is_some(), Ordering::Relaxed);
            match installer {
                Some(installer) => {
                    lua.set_app_data(HookInstaller(installer));
                }
                None => {
                    lua.remove_app_data::<HookInstaller>();
                }
            }
            Ok(())
        })?,
    )?;
    module.set(
        "cwd",
        lua.create_function(|_, ()| {
            Ok(std::env::current_dir()
                .ok()
                .map(|dir| dir.to_string_lossy().into_owned()))
        })?,
    )?;
    let loaded: Table = lua.globals().get::<Table>("package")?.get("loaded")?;
    loaded.set("plua.taskhook", module)
}

/// Passes `thread` to the hook installer, if one is set, and returns what the installer's call
/// returned. Built with `--cfg plua_no_task_hook` (scripts/debugger_cost.sh) the seam is
/// compiled out, to measure what it costs when the debugger is off.
#[inline]
pub fn install(lua: &Lua, thread: &Thread) -> Result<()> {
    if cfg!(plua_no_task_hook) || !HOOKING.load(Ordering::Relaxed) {
        return Ok(());
    }
    let installer = lua.app_data_ref::<HookInstaller>().map(|i| i.0.clone());
    match installer {
        Some(installer) => installer.call::<()>(thread),
        None => Ok(()),
    }
}
