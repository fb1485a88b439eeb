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
pub mod websocket;

use mlua::{Lua, Result, Table};

use crate::reactor::SharedReactor;

/// A group of `_PY` helpers registered together on first use.
struct Group {
    names: &'static [&'static str],
    register: fn(&Lua, &Table) -> Result<()>,
}

/// The helper groups. Each Rust function created at start-up touches its own code pages (the
/// start-up memory target is tight), so `_PY`'s `__index` (in the prelude) registers a group
/// the first time one of its names is looked up.
const GROUPS: &[Group] = &[
    Group {
        names: &[
            "read_file",
            "write_file",
            "file_exists",
            "get_file_size",
            "list_files",
            "create_directory",
            "create_temp_directory",
        ],
        register: fs::register,
    },
    Group {
        names: &["parse_json", "to_json", "pretty_print", "print_table"],
        register: json::register,
    },
    Group {
        names: &["get_env_var", "set_env_var", "get_all_env_vars"],
        register: env::register,
    },
    Group {
        names: &["html2console", "get_available_colors"],
        register: html::register,
    },
    Group {
        names: &[
            "get_time",
            "base64_encode",
            "base64_decode",
            "input_lua",
            "list_extensions",
            "get_local_ip",
            "get_hostname",
            "is_port_available",
        ],
        register: system::register,
    },
];

/// Registers `group` into `py`, each function [`args::wrapped`] so that its errors name it and
/// point at the script's line.
fn register_group(lua: &Lua, py: &Table, group: &Group) -> Result<()> {
    (group.register)(lua, py)?;
    for name in group.names {
        if let mlua::Value::Function(function) = py.raw_get::<mlua::Value>(*name)? {
            py.raw_set(*name, args::wrapped(lua, name, function)?)?;
        }
    }
    Ok(())
}

/// Adds `core.load_py_helper(name)`: registers the group that provides `_PY[name]` into `py`;
/// true if `name` belongs to a group. `core.load_all_py_helpers()` registers every group not
/// registered yet (for `pairs(_PY)`).
pub fn register_lazy_helpers(lua: &Lua, core: &Table, py: &Table) -> Result<()> {
    let target = py.clone();
    let load = lua.create_function(move |lua, name: mlua::LuaString| {
        let name = name.to_str()?;
        let Some(group) = GROUPS.iter().find(|group| group.names.contains(&&*name)) else {
            return Ok(false);
        };
        register_group(lua, &target, group)?;
        Ok(true)
    })?;
    core.set("load_py_helper", load)?;
    let py = py.clone();
    let load_all = lua.create_function(move |lua, ()| {
        for group in GROUPS {
            if py.raw_get::<mlua::Value>(group.names[0])?.is_nil() {
                register_group(lua, &py, group)?;
            }
        }
        Ok(())
    })?;
    core.set("load_all_py_helpers", load_all)
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

    #[test]
    fn every_group_registers_exactly_its_names() {
        for group in GROUPS {
            let lua = Lua::new();
            let py = lua.create_table().expect("table");
            (group.register)(&lua, &py).expect("register");
            let mut registered: Vec<String> = py
                .pairs::<String, mlua::Value>()
                .map(|pair| pair.expect("pair").0)
                .collect();
            registered.sort();
            let mut expected: Vec<String> = group.names.iter().map(|n| n.to_string()).collect();
            expected.sort();
            assert_eq!(registered, expected);
        }
    }
}
