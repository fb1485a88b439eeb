//! The Lua-facing API, one area per file; [`build_py`] assembles the `_PY` table from them.

pub mod args;
pub mod colors;
pub mod env;
pub mod fs;
pub mod html;
pub mod json;
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
    fs::register(lua, &py)?;
    json::register(lua, &py)?;
    env::register(lua, &py)?;
    html::register(lua, &py)?;
    system::register(lua, &py)?;
    Ok(py)
}
