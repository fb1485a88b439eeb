//! Turning network results ([`Val`]) into Lua values.

use std::ffi::c_char;

use mlua::{Lua, MultiValue, Result, Table, Value, ffi};

use crate::event::Val;
use crate::http::request::{Request, decode_query};

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

/// Strings of every `req` table, made once per Lua state and kept (as app data) in one Lua
/// array: pushing one from there is an array read, where making it again hashes it and looks it
/// up in the string table. Entries 1..=6 are the keys of `req`; then the empty string, common
/// methods and common header names.
struct KnownStrings(Table);

/// The contents of [`KnownStrings`], in order.
const KNOWN: [&str; 32] = [
    // the keys of `req`
    "method",
    "path",
    "query",
    "headers",
    "body",
    "remote",
    // values
    "",
    "GET",
    "POST",
    "HEAD",
    "PUT",
    "DELETE",
    "OPTIONS",
    "PATCH",
    // header names (lower case)
    "host",
    "user-agent",
    "accept",
    "accept-encoding",
    "accept-language",
    "connection",
    "content-type",
    "content-length",
    "cookie",
    "authorization",
    "referer",
    "origin",
    "cache-control",
    "upgrade",
    "x-forwarded-for",
    "x-requested-with",
    "if-none-match",
    "if-modified-since",
];

/// Index of the first known value (after the keys) in [`KNOWN`], 0-based.
const FIRST_VALUE: usize = 6;

impl KnownStrings {
    fn get(lua: &Lua) -> Result<mlua::AppDataRef<'_, KnownStrings>> {
        if let Some(known) = lua.app_data_ref::<KnownStrings>() {
            return Ok(known);
        }
        let table = lua.create_table_with_capacity(KNOWN.len(), 0)?;
        for (index, text) in KNOWN.iter().enumerate() {
            table.raw_set(index + 1, *text)?;
        }
        lua.set_app_data(KnownStrings(table));
        lua.app_data_ref::<KnownStrings>()
            .ok_or_else(|| mlua::Error::runtime("known strings missing"))
    }
}

/// The 1-based index of `text` among the known values, if it is one.
fn known_value(text: &str) -> Option<i64> {
    KNOWN[FIRST_VALUE..]
        .iter()
        .position(|known| *known == text)
        .map(|index| (FIRST_VALUE + index + 1) as i64)
}

/// The `req` table of an HTTP handler: `{method, path, query = {name = value},
/// headers = {lower-case name = value}, body, remote}`. A header sent more than once has its
/// values joined with `", "`; of a repeated query parameter the last value wins.
///
/// Built with the raw C API in one protected call, the known strings passed in as argument:
/// this runs for every request, and a registry reference per string and table, or a C-string
/// key lookup per field, costs more than the rest of the conversion.
pub fn request_table(lua: &Lua, request: &Request) -> Result<Value> {
    let known = KnownStrings::get(lua)?;
    // Everything owned is made before the protected call: a Lua error (out of memory) unwinds
    // it with a longjmp, which must not skip destructors.
    let query = decode_query(request.head.query());
    let head = &request.head;
    let fill = |state: *mut ffi::lua_State| {
        // SAFETY: `state` is the live state handed over by `exec_raw`, with the known strings
        // table at stack index 1. The request table is built at index 2 and left alone at
        // index 1 for `exec_raw` to return. Lua errors raised here are caught by the protected
        // call around this closure, and no frame of it owns anything.
        unsafe {
            ffi::luaL_checkstack(state, 8, std::ptr::null());
            ffi::lua_createtable(state, 0, 6);
            set_field(state, 1, head.method());
            set_field(state, 2, head.path());
            ffi::lua_rawgeti(state, 1, 3);
            ffi::lua_createtable(state, 0, query.len() as i32);
            for (name, value) in &query {
                push_text(state, name);
                push_text(state, value);
                ffi::lua_rawset(state, -3);
            }
            ffi::lua_rawset(state, -3);
            let headers = head.headers();
            ffi::lua_rawgeti(state, 1, 4);
            ffi::lua_createtable(state, 0, headers.len() as i32);
            for (name, value) in headers {
                push_text(state, name);
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
            ffi::lua_rawgeti(state, 1, 5);
            if request.body.is_empty() {
                ffi::lua_rawgeti(state, 1, FIRST_VALUE as i64 + 1);
            } else {
                push_bytes(state, &request.body);
            }
            ffi::lua_rawset(state, -3);
            ffi::lua_rawgeti(state, 1, 6);
            push_bytes(state, request.remote.as_bytes());
            ffi::lua_rawset(state, -3);
            ffi::lua_replace(state, 1);
        }
    };
    // SAFETY: `fill` uses the state only as described above.
    unsafe { lua.exec_raw::<Value>(&known.0, fill) }
}

/// Pushes `text`: from the known strings (stack index 1) when it is one of them.
///
/// # Safety
/// `state` must be a live Lua state with the known strings table at index 1 and a free stack
/// slot.
unsafe fn push_text(state: *mut ffi::lua_State, text: &str) {
    // SAFETY: as the caller promised.
    unsafe {
        match known_value(text) {
            Some(index) => {
                ffi::lua_rawgeti(state, 1, index);
            }
            None => push_bytes(state, text.as_bytes()),
        }
    }
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

/// Sets `table[KNOWN[key - 1]] = text` on the table at the top of the stack.
///
/// # Safety
/// `state` must be a live Lua state with the known strings table at index 1, a table at the
/// top of the stack and two free stack slots.
unsafe fn set_field(state: *mut ffi::lua_State, key: i64, text: &str) {
    // SAFETY: as the caller promised.
    unsafe {
        ffi::lua_rawgeti(state, 1, key);
        push_text(state, text);
        ffi::lua_rawset(state, -3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{Limits, parse_head};

    fn req_table(lua: &Lua, raw: &[u8], body: &[u8]) -> Table {
        let (head, _) = parse_head(raw, &Limits::default())
            .expect("valid head")
            .expect("complete head");
        let request = Request {
            head,
            body: body.to_vec(),
            remote: "10.0.0.1:4242".into(),
        };
        match request_table(lua, &request).expect("converts") {
            Value::Table(table) => table,
            other => panic!("not a table: {other:?}"),
        }
    }

    #[test]
    fn known_strings_start_with_the_keys_then_the_empty_string() {
        assert_eq!(
            KNOWN[..FIRST_VALUE],
            ["method", "path", "query", "headers", "body", "remote"]
        );
        assert_eq!(known_value(""), Some(FIRST_VALUE as i64 + 1));
        assert_eq!(known_value("GET"), Some(FIRST_VALUE as i64 + 2));
        assert_eq!(known_value("method"), None);
        for (index, text) in KNOWN.iter().enumerate() {
            assert!(!KNOWN[..index].contains(text), "{text:?} twice");
        }
    }

    #[test]
    fn request_tables_carry_every_field() {
        let lua = Lua::new();
        let raw = b"PROPFIND /a/b?x=1&y=two+words HTTP/1.1\r\nHost: h:1\r\nX-Rep: 1\r\nx-rep: 2\r\nAccept: */*\r\n\r\n";
        let req = req_table(&lua, raw, b"data");
        let text = |table: &Table, key: &str| table.get::<String>(key).expect(key);
        assert_eq!(text(&req, "method"), "PROPFIND");
        assert_eq!(text(&req, "path"), "/a/b");
        assert_eq!(text(&req, "body"), "data");
        assert_eq!(text(&req, "remote"), "10.0.0.1:4242");
        let query: Table = req.get("query").expect("query");
        assert_eq!(
            (text(&query, "x"), text(&query, "y")),
            ("1".into(), "two words".into())
        );
        let headers: Table = req.get("headers").expect("headers");
        assert_eq!(text(&headers, "host"), "h:1");
        assert_eq!(text(&headers, "x-rep"), "1, 2");
        assert_eq!(text(&headers, "accept"), "*/*");
        assert_eq!(headers.pairs::<String, String>().count(), 3);
        assert_eq!(req.pairs::<String, Value>().count(), 6);

        let req = req_table(&lua, b"GET / HTTP/1.1\r\n\r\n", b"");
        assert_eq!(
            (text(&req, "method"), text(&req, "body")),
            ("GET".into(), String::new())
        );
        let query: Table = req.get("query").expect("query");
        assert_eq!(query.pairs::<String, String>().count(), 0);
    }
}
