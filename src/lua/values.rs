//! Turning network results ([`Val`]) into Lua values.

use mlua::{Lua, MultiValue, Result, Value};

use crate::net::Val;

/// One [`Val`] as a Lua value (`Record` becomes a table with string keys).
pub fn to_lua(lua: &Lua, value: Val) -> Result<Value> {
    Ok(match value {
        Val::Nil => Value::Nil,
        Val::Bool(b) => Value::Boolean(b),
        Val::Int(n) => Value::Integer(n),
        Val::Bytes(bytes) => Value::String(lua.create_string(bytes)?),
        Val::Text(text) => Value::String(lua.create_string(text)?),
        Val::Map(fields) => {
            let table = lua.create_table_with_capacity(0, fields.len())?;
            for (key, field) in fields {
                table.raw_set(key, to_lua(lua, field)?)?;
            }
            Value::Table(table)
        }
        Val::Record(fields) => {
            let table = lua.create_table_with_capacity(0, fields.len())?;
            for (key, field) in fields {
                table.raw_set(key, to_lua(lua, field)?)?;
            }
            Value::Table(table)
        }
    })
}

/// Several values, in order.
pub fn to_lua_multi(lua: &Lua, values: Vec<Val>) -> Result<MultiValue> {
    values.into_iter().map(|value| to_lua(lua, value)).collect()
}
