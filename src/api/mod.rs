//! The Lua-facing API, one area per file; [`build_py`] assembles the `_PY` table from them.

pub mod args;
pub mod colors;
pub mod env;
pub mod fs;
pub mod html;
pub mod http;
pub mod json;
pub mod luasocket;
pub mod net;
pub mod output;
pub mod system;
pub mod timers;

use mlua::{Lua, Result, Table};

use crate::reactor::SharedReactor;

/// Builds `_PY` (the timer entries are added by the prelude).
pub fn build_py(lua: &Lua, _reactor: &SharedReactor, debug: bool) -> Result<Table> {
    let py = lua.create_table()?;
    py.set("debug", debug)?;
    py.set("version", env!("CARGO_PKG_VERSION"))?;
    // `_PY.args` as the original has it; `port`/`host` are the API server's defaults (used by
    // the HC3 emulator of a later milestone).
    let args = lua.create_table()?;
    args.set("debug", debug)?;
    args.set("port", 8000)?;
    args.set("host", "127.0.0.1")?;
    py.set("args", args)?;
    fs::register(lua, &py)?;
    json::register(lua, &py)?;
    env::register(lua, &py)?;
    html::register(lua, &py)?;
    system::register(lua, &py)?;
    Ok(py)
}
