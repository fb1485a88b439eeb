//! The `lua_stdlib/` files embedded at build time, and the `require` searcher that finds them.
//! The searcher sits right after `package.preload`, before the file searchers, so the embedded
//! libraries are always the ones the binary was built with.

use mlua::{Function, Lua, MultiValue, Result, Table, Value};

include!(concat!(env!("OUT_DIR"), "/stdlib_files.rs"));

/// The embedded source of module `name` as (chunk name, source).
pub fn find(name: &str) -> Option<(&'static str, &'static str)> {
    FILES
        .iter()
        .find(|(module, _, _)| *module == name)
        .map(|&(_, chunk, source)| (chunk, source))
}

/// The embedded data file at `path` (relative to `lua_stdlib/`, e.g. `fibaro/devices.json`).
pub fn asset(path: &str) -> Option<&'static [u8]> {
    ASSETS
        .iter()
        .find(|(name, _)| *name == path)
        .map(|&(_, bytes)| bytes)
}

/// Paths of all embedded data files.
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(name, _)| *name)
}

/// Names of all embedded modules (for `_PY.list_extensions` and diagnostics).
pub fn module_names() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(module, _, _)| *module)
}

/// Loads embedded module `name` as a function, named after its file for error messages.
pub fn load(lua: &Lua, name: &str) -> Result<Option<Function>> {
    let Some((chunk, source)) = find(name) else {
        return Ok(None);
    };
    lua.load(source).set_name(chunk).into_function().map(Some)
}

/// Inserts the embedded-module searcher as `package.searchers[2]`. When it finds nothing it
/// returns `nil`, which adds no line to `require`'s error message.
pub fn install_searcher(lua: &Lua) -> Result<()> {
    let searcher = lua.create_function(|lua, name: String| match load(lua, &name)? {
        Some(loader) => {
            let (chunk, _) = find(&name).unwrap_or(("", ""));
            Ok(MultiValue::from_iter([
                Value::Function(loader),
                Value::String(lua.create_string(chunk)?),
            ]))
        }
        // Nothing to add to the "module not found" message: it reads as stock Lua's.
        None => Ok(MultiValue::from_iter([Value::Nil])),
    })?;
    let package: Table = lua.globals().get("package")?;
    let searchers: Table = package.get("searchers")?;
    let table_insert: Function = lua.globals().get::<Table>("table")?.get("insert")?;
    table_insert.call::<()>((searchers, 2, searcher))?;
    Ok(())
}
