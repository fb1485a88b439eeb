//! File helpers in `_PY`: read, write, test, size, list, create directories. Failures that are
//! about the file system (missing file, no permission) return `nil, message` (`write_file`:
//! `false, message`, as in the original); a wrong argument type is an error.

use std::fs;

use mlua::{IntoLuaMulti, Lua, MultiValue, Result, Table};

use super::args::{Args, add, fail};

fn ok(lua: &Lua, value: impl IntoLuaMulti) -> Result<MultiValue> {
    value.into_lua_multi(lua)
}

/// Adds the file functions to `_PY`.
pub fn register(lua: &Lua, py: &Table) -> Result<()> {
    add(lua, py, "_PY.read_file", |lua, args: Args| {
        let path = args.text(1)?;
        match fs::read(&path) {
            Ok(bytes) => ok(lua, lua.create_string(bytes)?),
            Err(error) => fail(lua, format!("cannot read {path}: {error}")),
        }
    })?;
    add(lua, py, "_PY.write_file", |lua, args: Args| {
        let path = args.text(1)?;
        let content = args.string(2)?;
        match fs::write(&path, content.as_bytes()) {
            Ok(()) => ok(lua, true),
            // `false, message` as the original (the other helpers answer `nil, message`).
            Err(error) => ok(lua, (false, format!("cannot write {path}: {error}"))),
        }
    })?;
    add(lua, py, "_PY.file_exists", |_, args: Args| {
        Ok(fs::metadata(args.text(1)?).is_ok())
    })?;
    add(lua, py, "_PY.get_file_size", |lua, args: Args| {
        let path = args.text(1)?;
        match fs::metadata(&path) {
            Ok(meta) => ok(lua, meta.len()),
            Err(error) => fail(lua, format!("cannot stat {path}: {error}")),
        }
    })?;
    add(lua, py, "_PY.list_files", |lua, args: Args| {
        let dir = args.opt_text(1)?.unwrap_or_else(|| ".".into());
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) => return fail(lua, format!("cannot list {dir}: {error}")),
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        ok(lua, lua.create_sequence_from(names)?)
    })?;
    add(lua, py, "_PY.create_directory", |lua, args: Args| {
        let path = args.text(1)?;
        match fs::create_dir_all(&path) {
            Ok(()) => ok(lua, true),
            Err(error) => fail(lua, format!("cannot create {path}: {error}")),
        }
    })?;
    add(lua, py, "_PY.create_temp_directory", |lua, args: Args| {
        let prefix = args.opt_text(1)?.unwrap_or_else(|| "plua".into());
        let base = std::env::temp_dir();
        for attempt in 0..100u32 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let path = base.join(format!(
                "{prefix}-{}-{nanos:08x}{attempt}",
                std::process::id()
            ));
            match fs::create_dir(&path) {
                Ok(()) => return ok(lua, path.to_string_lossy().into_owned()),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(error) => return fail(lua, format!("cannot create a temp directory: {error}")),
            }
        }
        fail(lua, "cannot create a temp directory: too many name clashes")
    })?;
    Ok(())
}
