//! The Lua-facing API, one area per file; [`build_py`] assembles the `_PY` table from them.

pub mod args;
pub mod assets;
pub mod colors;
pub mod env;
pub mod fast_path;
pub mod fs;
pub mod html;
pub mod http;
pub mod http_respond;
pub mod http_stream;
pub mod json;
pub mod json_encode;
pub mod luasocket;
pub mod net;
pub mod output;
pub mod system;
pub mod tcp_write;
pub mod timers;
pub mod websocket;
pub mod ws_send;

use mlua::{Lua, Result, Table};

use crate::sockets::SharedReactor;

/// A family of Rust `_PY` helpers registered together on first use. Which names belong to
/// which family is listed once, in `lua_stdlib/plua/catalogue.lua`.
struct Family {
    name: &'static str,
    register: fn(&Lua, &Table) -> Result<()>,
}

/// The Rust families. Each Rust function created at start-up touches its own code pages (the
/// start-up memory target is tight), so the prelude's `_PY.__index` registers a family the
/// first time one of its names is looked up.
const FAMILIES: &[Family] = &[
    Family {
        name: "files",
        register: fs::register,
    },
    Family {
        name: "json",
        register: json::register,
    },
    Family {
        name: "env",
        register: env::register,
    },
    Family {
        name: "html",
        register: html::register,
    },
    Family {
        name: "system",
        register: system::register,
    },
    Family {
        name: "assets",
        register: assets::register,
    },
];

/// Registers `family` into `py`, each function [`args::wrapped`] so that its errors name it and
/// point at the script's line.
fn register_family(lua: &Lua, py: &Table, family: &Family) -> Result<()> {
    let fresh = lua.create_table()?;
    (family.register)(lua, &fresh)?;
    for pair in fresh.pairs::<String, mlua::Value>() {
        let (name, value) = pair?;
        let value = match value {
            mlua::Value::Function(function) => {
                mlua::Value::Function(args::wrapped(lua, &name, function)?)
            }
            other => other,
        };
        py.raw_set(name, value)?;
    }
    Ok(())
}

/// Adds `core.load_py_family(name)`: registers the Rust family `name` into `py` (once); false
/// if there is no Rust family of that name. Adds `core.embedded_modules()` too.
pub fn register_lazy_helpers(lua: &Lua, core: &Table, py: &Table) -> Result<()> {
    let target = py.clone();
    let loaded = std::cell::RefCell::new(Vec::<&'static str>::new());
    let load = lua.create_function(move |lua, name: mlua::LuaString| {
        let name = name.to_str()?;
        let Some(family) = FAMILIES.iter().find(|family| family.name == &*name) else {
            return Ok(false);
        };
        if !loaded.borrow().contains(&family.name) {
            register_family(lua, &target, family)?;
            loaded.borrow_mut().push(family.name);
        }
        Ok(true)
    })?;
    core.set("load_py_family", load)?;
    // The `require`-able modules embedded in the binary (listed by `_PY.list_extensions`).
    let modules = lua.create_function(|lua, ()| {
        lua.create_sequence_from(
            crate::lua::stdlib::module_names().filter(|name| !name.starts_with("plua.")),
        )
    })?;
    core.set("embedded_modules", modules)
}

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
    Ok(py)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of `family` in the embedded catalogue.
    fn catalogue_names(lua: &Lua, family: &str) -> Vec<String> {
        let catalogue: Table = crate::lua::stdlib::load(lua, "plua.catalogue")
            .expect("load")
            .expect("embedded catalogue")
            .call(())
            .expect("run catalogue");
        let families: Table = catalogue.get("families").expect("families");
        for entry in families.sequence_values::<Table>() {
            let entry = entry.expect("family");
            if entry.get::<String>("name").expect("name") == family {
                let mut names: Vec<String> = entry
                    .get::<Table>("names")
                    .expect("names")
                    .sequence_values::<String>()
                    .map(|name| name.expect("name"))
                    .collect();
                names.sort();
                return names;
            }
        }
        panic!("family {family} is not in the catalogue");
    }

    #[test]
    fn every_rust_family_registers_exactly_its_catalogue_names() {
        for family in FAMILIES {
            let lua = Lua::new();
            let py = lua.create_table().expect("table");
            (family.register)(&lua, &py).expect("register");
            let mut registered: Vec<String> = py
                .pairs::<String, mlua::Value>()
                .map(|pair| pair.expect("pair").0)
                .collect();
            registered.sort();
            assert_eq!(
                registered,
                catalogue_names(&lua, family.name),
                "{}",
                family.name
            );
        }
    }
}
