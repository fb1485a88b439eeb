//! JSON in `_PY`: `parse_json` (through `serde_json` and mlua's serde bridge), `to_json`,
//! `pretty_print` (pretty JSON text) and `print_table` (prints it), encoded by
//! [`super::json_encode`] straight into one buffer. Arrays decode to tables that re-encode as
//! arrays (even when empty); `null` decodes to `nil`; keys are sorted when encoding so output
//! is stable.

use mlua::serde::SerializeOptions;
use mlua::{Lua, LuaSerdeExt, Result, Table, Value};

use super::args::{Args, add, fail};
use super::json_encode::with_json;
use super::output::write_stdout;

/// Encodes a Lua value as JSON text (a Lua string).
pub fn encode(lua: &Lua, value: Value, pretty: bool) -> Result<mlua::LuaString> {
    with_json(lua, value, pretty, |text| lua.create_string(text))
}

/// Decodes JSON text into a Lua value.
pub fn decode(lua: &Lua, text: &[u8]) -> std::result::Result<Result<Value>, String> {
    match serde_json::from_slice::<serde_json::Value>(text) {
        Ok(json) => Ok(lua.to_value_with(
            &json,
            SerializeOptions::new()
                .serialize_none_to_null(false)
                .serialize_unit_to_null(false),
        )),
        Err(error) => Err(format!("invalid JSON: {error}")),
    }
}

/// Adds the JSON functions to `_PY`.
pub fn register(lua: &Lua, py: &Table) -> Result<()> {
    add(lua, py, "_PY.parse_json", |lua, args: Args| {
        let text = args.string(1)?;
        match decode(lua, &text.as_bytes()) {
            Ok(value) => Ok(mlua::MultiValue::from_vec(vec![value?])),
            Err(message) => fail(lua, message),
        }
    })?;
    add(lua, py, "_PY.to_json", |lua, args: Args| {
        encode(lua, args.value(1), false).map_err(|error| args.error(error))
    })?;
    add(lua, py, "_PY.json_array", |lua, args: Args| {
        let table = match args.value(1) {
            Value::Nil => lua.create_table()?,
            Value::Table(table) => table,
            other => {
                return Err(args.error(format!(
                    "bad argument #1 (table expected, got {})",
                    other.type_name()
                )));
            }
        };
        table.set_metatable(Some(lua.array_metatable()))?;
        Ok(table)
    })?;
    add(lua, py, "_PY.pretty_print", |lua, args: Args| {
        encode(lua, args.value(1), true).map_err(|error| args.error(error))
    })?;
    add(lua, py, "_PY.print_table", |lua, args: Args| {
        with_json(lua, args.value(1), true, |text| {
            let mut line = Vec::with_capacity(text.len() + 1);
            line.extend_from_slice(text);
            line.push(b'\n');
            write_stdout(&line);
            Ok(())
        })
        .map_err(|error| args.error(error))
    })?;
    Ok(())
}
