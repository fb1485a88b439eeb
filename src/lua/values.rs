//! Turning network results ([`Val`]) into Lua values.

use std::ffi::{CStr, c_char};

use mlua::{Lua, MultiValue, Result, Value, ffi};

use crate::http::request::{Request, decode_query};
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
        Val::HttpRequest(request) => request_table(lua, &request)?,
    })
}

/// Several values, in order.
pub fn to_lua_multi(lua: &Lua, values: Vec<Val>) -> Result<MultiValue> {
    values.into_iter().map(|value| to_lua(lua, value)).collect()
}

/// The `req` table of an HTTP handler: `{method, path, query = {name = value},
/// headers = {lower-case name = value}, body, remote}`. A header sent more than once has its
/// values joined with `", "`; of a repeated query parameter the last value wins.
///
/// Built with the raw C API in one protected call: this runs for every request, and going
/// through a registry reference per string and table costs more than the rest of the
/// conversion.
fn request_table(lua: &Lua, request: &Request) -> Result<Value> {
    // Everything owned is made before the protected call: a Lua error (out of memory) unwinds
    // it with a longjmp, which must not skip destructors.
    let query = decode_query(request.head.query());
    let head = &request.head;
    let fill = |state: *mut ffi::lua_State| {
        // SAFETY: `state` is the live state handed over by `exec_raw`; every push is matched
        // by a set, so the stack ends with just the request table. Lua errors raised here are
        // caught by the protected call around this closure, and no frame of it owns anything.
        unsafe {
            ffi::luaL_checkstack(state, 8, std::ptr::null());
            ffi::lua_createtable(state, 0, 6);
            set_field(state, c"method", head.method().as_bytes());
            set_field(state, c"path", head.path().as_bytes());
            ffi::lua_createtable(state, 0, query.len() as i32);
            for (name, value) in &query {
                push_bytes(state, name.as_bytes());
                push_bytes(state, value.as_bytes());
                ffi::lua_rawset(state, -3);
            }
            ffi::lua_setfield(state, -2, c"query".as_ptr());
            let headers = head.headers();
            ffi::lua_createtable(state, 0, headers.len() as i32);
            for (name, value) in headers {
                push_bytes(state, name.as_bytes());
                ffi::lua_pushvalue(state, -1);
                if ffi::lua_rawget(state, -3) == ffi::LUA_TNIL {
                    ffi::lua_pop(state, 1);
                    push_bytes(state, value.as_bytes());
                } else {
                    push_bytes(state, b", ");
                    push_bytes(state, value.as_bytes());
                    ffi::lua_concat(state, 3);
                }
                ffi::lua_rawset(state, -3);
            }
            ffi::lua_setfield(state, -2, c"headers".as_ptr());
            set_field(state, c"body", &request.body);
            set_field(state, c"remote", request.remote.as_bytes());
        }
    };
    // SAFETY: `fill` uses the state only as described above.
    unsafe { lua.exec_raw::<Value>((), fill) }
}

/// Pushes `bytes` as a Lua string.
///
/// # Safety
/// `state` must be a live Lua state with a free stack slot.
unsafe fn push_bytes(state: *mut ffi::lua_State, bytes: &[u8]) {
    // SAFETY: as the caller promised; Lua copies the bytes.
    unsafe {
        ffi::lua_pushlstring(state, bytes.as_ptr() as *const c_char, bytes.len());
    }
}

/// Sets `table[key] = bytes` on the table at the top of the stack.
///
/// # Safety
/// `state` must be a live Lua state with a table (without metatable) at the top of the stack
/// and a free stack slot.
unsafe fn set_field(state: *mut ffi::lua_State, key: &CStr, bytes: &[u8]) {
    // SAFETY: as the caller promised.
    unsafe {
        push_bytes(state, bytes);
        ffi::lua_setfield(state, -2, key.as_ptr());
    }
}
