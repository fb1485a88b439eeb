//! Turning network results ([`Val`]) into Lua values.

use std::ffi::c_char;

use mlua::{Lua, LuaString, MultiValue, Result, Value, ffi};

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

/// Several values, in order (with room for the two an emit puts in front).
pub fn to_lua_multi(lua: &Lua, values: Vec<Val>) -> Result<MultiValue> {
    let mut out = MultiValue::with_capacity(values.len() + 2);
    for value in values {
        out.push_back(to_lua(lua, value)?);
    }
    Ok(out)
}

/// The keys of the `req` table, interned once per Lua state (kept as app data).
struct RequestKeys([LuaString; 6]);

impl RequestKeys {
    const NAMES: [&'static str; 6] = ["method", "path", "query", "headers", "body", "remote"];

    fn new(lua: &Lua) -> Result<RequestKeys> {
        let [a, b, c, d, e, f] = Self::NAMES.map(|name| lua.create_string(name));
        Ok(RequestKeys([a?, b?, c?, d?, e?, f?]))
    }
}

/// The `req` table of an HTTP handler: `{method, path, query = {name = value},
/// headers = {lower-case name = value}, body, remote}`. A header sent more than once has its
/// values joined with `", "`; of a repeated query parameter the last value wins.
///
/// Built with the raw C API in one protected call, the keys passed in as arguments: this runs
/// for every request, and a registry reference per string and table, or a C-string key lookup
/// per field, costs more than the rest of the conversion.
fn request_table(lua: &Lua, request: &Request) -> Result<Value> {
    let keys = match lua.app_data_ref::<RequestKeys>() {
        Some(keys) => keys,
        None => {
            lua.set_app_data(RequestKeys::new(lua)?);
            lua.app_data_ref::<RequestKeys>()
                .ok_or_else(|| mlua::Error::runtime("request keys missing"))?
        }
    };
    let [method, path, query_key, headers_key, body, remote] = &keys.0;
    // Everything owned is made before the protected call: a Lua error (out of memory) unwinds
    // it with a longjmp, which must not skip destructors.
    let query = decode_query(request.head.query());
    let head = &request.head;
    let fill = |state: *mut ffi::lua_State| {
        // SAFETY: `state` is the live state handed over by `exec_raw`, with the six keys at
        // stack indices 1..=6 (in `RequestKeys::NAMES` order). The table is built at index 7
        // and left alone at index 1 for `exec_raw` to return. Lua errors raised here are caught
        // by the protected call around this closure, and no frame of it owns anything.
        unsafe {
            ffi::luaL_checkstack(state, 8, std::ptr::null());
            ffi::lua_createtable(state, 0, 6);
            set_field(state, 1, head.method().as_bytes());
            set_field(state, 2, head.path().as_bytes());
            ffi::lua_pushvalue(state, 3);
            ffi::lua_createtable(state, 0, query.len() as i32);
            for (name, value) in &query {
                push_bytes(state, name.as_bytes());
                push_bytes(state, value.as_bytes());
                ffi::lua_rawset(state, -3);
            }
            ffi::lua_rawset(state, -3);
            let headers = head.headers();
            ffi::lua_pushvalue(state, 4);
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
            ffi::lua_rawset(state, -3);
            set_field(state, 5, &request.body);
            set_field(state, 6, request.remote.as_bytes());
            ffi::lua_replace(state, 1);
            ffi::lua_settop(state, 1);
        }
    };
    // SAFETY: `fill` uses the state only as described above.
    unsafe { lua.exec_raw::<Value>((method, path, query_key, headers_key, body, remote), fill) }
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

/// Sets `table[key] = bytes` on the table at the top of the stack, the key being the string
/// at stack index `key`.
///
/// # Safety
/// `state` must be a live Lua state with a table at the top of the stack, a string at `key`
/// and two free stack slots.
unsafe fn set_field(state: *mut ffi::lua_State, key: i32, bytes: &[u8]) {
    // SAFETY: as the caller promised.
    unsafe {
        ffi::lua_pushvalue(state, key);
        push_bytes(state, bytes);
        ffi::lua_rawset(state, -3);
    }
}
