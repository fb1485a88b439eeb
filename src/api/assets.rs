//! The data files embedded from `lua_stdlib/` (JSON, HTML, CSS, JS: the device catalogue and
//! the web UI of the emulator, the REPL's help text) as `_PY.embedded_file(path)` and
//! `_PY.embedded_files([prefix])`. The bytes live in the binary's read-only data: nothing is
//! copied or touched until a script asks for a file.

use mlua::{Lua, Result, Table, Value};

use super::args::add;
use crate::lua::stdlib;

/// Registers the embedded-file family into `py`.
pub fn register(lua: &Lua, py: &Table) -> Result<()> {
    add(lua, py, "_PY.embedded_file", |lua, args| {
        let path = args.text(1)?;
        match stdlib::asset(&path) {
            Some(bytes) => Ok((Value::String(lua.create_string(bytes)?), Value::Nil)),
            None => Ok((
                Value::Nil,
                Value::String(lua.create_string(format!("no embedded file '{path}'"))?),
            )),
        }
    })?;
    add(lua, py, "_PY.embedded_files", |lua, args| {
        let prefix = args.opt_text(1)?.unwrap_or_default();
        let mut names: Vec<&str> = stdlib::asset_names()
            .filter(|name| name.starts_with(&prefix))
            .collect();
        names.sort_unstable();
        lua.create_sequence_from(names)
    })
}
