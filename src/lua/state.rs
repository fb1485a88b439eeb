//! Creating the Lua state: the full standard library, the embedded-module searcher, `print`,
//! `os.exit`, `warn`, the `_PY` table and the prelude that defines the timer globals.

use mlua::{Lua, Result, Table};

use crate::api;
use crate::lua::{closing, coroutines, memory, search_paths, stdlib, warnings};
use crate::sockets::SharedReactor;

/// A ready Lua state and the prelude's hooks for the task runner.
pub struct LuaSetup {
    pub lua: Lua,
    pub hooks: Table,
}

/// Builds the Lua state plua scripts run in.
pub fn new_state(reactor: &SharedReactor, debug: bool) -> Result<LuaSetup> {
    // SAFETY: `Lua::new()` leaves out the `debug` library and C modules. plua needs both, like
    // the standard `lua` program: tracebacks, the REPL's persistent locals and debuggers use
    // `debug`, and scripts may `require` native Lua 5.4 modules. Scripts are the user's own.
    let lua = unsafe { Lua::unsafe_new() };
    memory::limit_to_address_space(&lua);
    warnings::install(&lua);
    search_paths::install(&lua)?;
    stdlib::install_searcher(&lua)?;
    api::luasocket::register(&lua)?;
    closing::override_os_exit(&lua)?;

    let py = api::build_py(&lua, reactor, debug)?;
    lua.globals().set("_PY", &py)?;
    lua.globals()
        .set("_PLUA_VERSION", env!("CARGO_PKG_VERSION"))?;

    let primitives = api::timers::primitives(&lua, reactor)?;
    api::register_lazy_helpers(&lua, &primitives, &py)?;
    api::output::register(&lua, &primitives)?;
    primitives.set("coroutine_functions", coroutines::factory(&lua)?)?;
    // The socket primitives are created on first use (see `load_sockets` in the prelude): each
    // Rust function created at start-up touches its own code pages.
    let (net_core, net_reactor) = (primitives.clone(), reactor.clone());
    let load_net =
        lua.create_function(move |lua, ()| api::net::register(lua, &net_core, &net_reactor))?;
    primitives.set("load_net", load_net)?;
    let prelude = stdlib::load(&lua, "plua.prelude")?
        .ok_or_else(|| mlua::Error::runtime("embedded plua.prelude is missing"))?;
    let hooks: Table = prelude.call((primitives, py))?;
    Ok(LuaSetup { lua, hooks })
}
