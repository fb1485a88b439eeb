//! The JSON encoder behind `_PY.to_json` and `_PY.pretty_print`: walks a Lua value with the raw
//! C API and writes JSON text into one reused buffer, with no intermediate tree.
//!
//! The output is the one plua always gave (through mlua's serde bridge and `serde_json`):
//! - a table is an array when it carries the `_PY.json_array` metatable (length = its raw
//!   length), or when every key is a positive integer and it is not too sparse (largest key
//!   under 10, or at least half the slots used); holes are `null`. An empty table is `[]`.
//! - any other table is an object with its keys sorted bytewise; a key that is not a string
//!   (a number, a boolean, a table) is an error, a function/userdata/thread key is skipped.
//! - functions, userdata and threads are left out of arrays and objects, `null` at the top.
//! - NaN and infinities are `null`; floats and integers are written as `serde_json` writes
//!   them; strings must be UTF-8 and are escaped as `serde_json` escapes them.
//! - a table inside itself is an error ("recursive table detected"), as is nesting deeper than
//!   [`DEPTH_LIMIT`] tables ("recursion limit exceeded").
//!
//! Nothing called during the walk can raise a Lua error (no metamethods, no allocation by
//! Lua), so no `longjmp` can cross the Rust frames; stack space is checked with
//! `lua_checkstack`, which reports failure instead of raising. An object's pairs stay on the
//! Lua stack while it is written; a value too big for the stack (hundreds of thousands of
//! keys) is encoded the old way, through a `serde_json` tree.

use std::cell::RefCell;
use std::ffi::{c_int, c_void};

use mlua::{Lua, Result, Table, Value, ffi};

/// Tables nested deeper than this are an error (mlua's serde limit, kept).
pub const DEPTH_LIMIT: usize = 128;

/// Buffers that grew past this are shrunk back after use.
const KEEP_CAPACITY: usize = 1 << 20;

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Encodes `value` as JSON and hands the text (valid UTF-8) to `use_text`.
pub fn with_json<R>(
    lua: &Lua,
    value: Value,
    pretty: bool,
    use_text: impl FnOnce(&[u8]) -> Result<R>,
) -> Result<R> {
    BUFFER.with(|cell| {
        // A re-entrant call (none is possible today: the walk runs no Lua code) gets its own.
        let mut own = Vec::new();
        let mut guard = cell.try_borrow_mut().ok();
        let out = match guard.as_deref_mut() {
            Some(buffer) => buffer,
            None => &mut own,
        };
        out.clear();
        let outcome = encode_into(lua, value, pretty, out).and_then(|()| use_text(out));
        if out.capacity() > KEEP_CAPACITY {
            *out = Vec::new();
        }
        outcome
    })
}

fn encode_into(lua: &Lua, value: Value, pretty: bool, out: &mut Vec<u8>) -> Result<()> {
    let array_mt: Table = mlua::LuaSerdeExt::array_metatable(lua);
    let mut encoder = Encoder {
        out: &mut *out,
        pretty,
        indent: 0,
        path: Vec::new(),
    };
    let mut failure = None;
    // SAFETY: the closure runs in a protected call with the value at stack index 1 and the
    // array metatable at index 2; the encoder only reads them (see the module comment).
    unsafe {
        lua.exec_raw::<()>((&value, array_mt), |state| {
            failure = encoder.value(state, 1).err();
            ffi::lua_settop(state, 0);
        })?;
    }
    match failure {
        None => Ok(()),
        Some(Failure::Invalid(message)) => Err(mlua::Error::DeserializeError(message)),
        Some(Failure::NoStack) => {
            out.clear();
            encode_through_serde(lua, value, pretty, out)
        }
    }
}

/// The slow path for values too big for the Lua stack: the same output through mlua's serde
/// bridge and a `serde_json::Value` tree.
fn encode_through_serde(lua: &Lua, value: Value, pretty: bool, out: &mut Vec<u8>) -> Result<()> {
    use mlua::LuaSerdeExt;
    let options = mlua::serde::DeserializeOptions::new()
        .deny_unsupported_types(false)
        .sort_keys(true)
        .detect_mixed_tables(true);
    let json: serde_json::Value = lua.from_value_with(value, options)?;
    let written = if pretty {
        serde_json::to_writer_pretty(&mut *out, &json)
    } else {
        serde_json::to_writer(&mut *out, &json)
    };
    written.map_err(mlua::Error::external)
}

/// Why a walk stopped.
enum Failure {
    /// The value cannot be JSON (the message says why).
    Invalid(String),
    /// The Lua stack cannot hold the pairs of an object.
    NoStack,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Invalid(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure::Invalid(message.to_string())
    }
}

type Walk = std::result::Result<(), Failure>;

/// Stack index of the array metatable during a walk.
const ARRAY_MT: c_int = 2;

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    pretty: bool,
    indent: usize,
    /// The tables being written, outermost first (for the cycle check and the depth limit).
    path: Vec<*const c_void>,
}

/// How a table is written.
enum Shape {
    Array(i64),
    Object,
}

/// Is the value at `index` left out of arrays and objects (a function, userdata, thread)?
///
/// # Safety
/// `state` must be a live Lua state with a value at `index`.
unsafe fn skipped(state: *mut ffi::lua_State, index: c_int) -> bool {
    // SAFETY: as the caller promised.
    unsafe {
        match ffi::lua_type(state, index) {
            ffi::LUA_TFUNCTION | ffi::LUA_TUSERDATA | ffi::LUA_TTHREAD => true,
            ffi::LUA_TLIGHTUSERDATA => !ffi::lua_touserdata(state, index).is_null(),
            _ => false,
        }
    }
}

/// The bytes of the string at `index`.
///
/// # Safety
/// The value at `index` must be a string, and the slice must not outlive its stay on the stack.
unsafe fn string_bytes<'s>(state: *mut ffi::lua_State, index: c_int) -> &'s [u8] {
    // SAFETY: as the caller promised; a string value is not converted by lua_tolstring.
    unsafe {
        let mut len = 0usize;
        let ptr = ffi::lua_tolstring(state, index, &mut len);
        if ptr.is_null() {
            return &[];
        }
        std::slice::from_raw_parts(ptr as *const u8, len)
    }
}

impl Encoder<'_> {
    /// Writes the value at absolute stack index `index` (a skipped kind is written `null`).
    ///
    /// # Safety
    /// `state` must be the live state of a walk (see [`encode_into`]) with a value at `index`.
    unsafe fn value(&mut self, state: *mut ffi::lua_State, index: c_int) -> Walk {
        // SAFETY: as the caller promised.
        unsafe {
            match ffi::lua_type(state, index) {
                ffi::LUA_TBOOLEAN => {
                    let text: &[u8] = if ffi::lua_toboolean(state, index) != 0 {
                        b"true"
                    } else {
                        b"false"
                    };
                    self.out.extend_from_slice(text);
                }
                ffi::LUA_TNUMBER => {
                    if ffi::lua_isinteger(state, index) != 0 {
                        write_integer(self.out, ffi::lua_tointeger(state, index));
                    } else {
                        write_float(self.out, ffi::lua_tonumber(state, index));
                    }
                }
                ffi::LUA_TSTRING => {
                    let text = std::str::from_utf8(string_bytes(state, index))
                        .map_err(|_| "invalid type: byte array, expected any valid JSON value")?;
                    write_string(self.out, text);
                }
                ffi::LUA_TTABLE => self.table(state, index)?,
                _ => self.out.extend_from_slice(b"null"),
            }
        }
        Ok(())
    }

    /// Writes the table at absolute stack index `index`.
    ///
    /// # Safety
    /// As for [`Encoder::value`], with a table at `index`.
    unsafe fn table(&mut self, state: *mut ffi::lua_State, index: c_int) -> Walk {
        // SAFETY: as the caller promised; every push is preceded by a stack check and undone
        // before returning.
        unsafe {
            let pointer = ffi::lua_topointer(state, index);
            if self.path.contains(&pointer) {
                return Err("recursive table detected".into());
            }
            if self.path.len() >= DEPTH_LIMIT {
                return Err("recursion limit exceeded".into());
            }
            if ffi::lua_checkstack(state, 4) == 0 {
                return Err(Failure::NoStack);
            }
            self.path.push(pointer);
            let top = ffi::lua_gettop(state);
            let written = match shape(state, index) {
                Shape::Array(len) => self.array(state, index, len),
                Shape::Object => self.object(state, index),
            };
            ffi::lua_settop(state, top);
            self.path.pop();
            written
        }
    }

    /// Writes elements `1..=len` of the table at `index`.
    ///
    /// # Safety
    /// As for [`Encoder::table`], with two free stack slots.
    unsafe fn array(&mut self, state: *mut ffi::lua_State, index: c_int, len: i64) -> Walk {
        self.out.push(b'[');
        self.indent += 1;
        let mut first = true;
        for n in 1..=len {
            // SAFETY: as the caller promised; the element is popped before the next.
            unsafe {
                ffi::lua_rawgeti(state, index, n);
                let element = ffi::lua_gettop(state);
                if !skipped(state, element) {
                    self.separator(first);
                    first = false;
                    self.value(state, element)?;
                }
                ffi::lua_settop(state, element - 1);
            }
        }
        self.indent -= 1;
        self.close(first, b']');
        Ok(())
    }

    /// Writes the table at `index` as an object, keys sorted.
    ///
    /// # Safety
    /// As for [`Encoder::table`]; the pairs are left on the stack for the caller to drop.
    unsafe fn object(&mut self, state: *mut ffi::lua_State, index: c_int) -> Walk {
        // (stack index of the value, key bytes); the key stays on the stack below its value.
        let mut entries: Vec<(c_int, &[u8])> = Vec::new();
        // SAFETY: as the caller promised. Each pair stays on the stack (its key under its
        // value) with a copy of the key on top for lua_next, so the key slices stay valid.
        unsafe {
            ffi::lua_pushnil(state);
            while ffi::lua_next(state, index) != 0 {
                if ffi::lua_checkstack(state, 3) == 0 {
                    return Err(Failure::NoStack);
                }
                let value = ffi::lua_gettop(state);
                let key = value - 1;
                if !skipped(state, key) && !skipped(state, value) {
                    entries.push((value, key_bytes(state, key).map_err(Failure::Invalid)?));
                }
                ffi::lua_pushvalue(state, key);
            }
        }
        entries.sort_unstable_by(|a, b| a.1.cmp(b.1));
        self.out.push(b'{');
        self.indent += 1;
        let mut first = true;
        for (value, key) in entries {
            self.separator(first);
            first = false;
            // SAFETY: checked UTF-8 by key_bytes.
            write_string(self.out, unsafe { std::str::from_utf8_unchecked(key) });
            self.out
                .extend_from_slice(if self.pretty { b": " } else { b":" });
            // SAFETY: as the caller promised; `value` is on the stack.
            unsafe { self.value(state, value)? };
        }
        self.indent -= 1;
        self.close(first, b'}');
        Ok(())
    }

    /// Before an element: a comma after the first, and in pretty mode a new indented line.
    fn separator(&mut self, first: bool) {
        if !first {
            self.out.push(b',');
        }
        if self.pretty {
            self.newline();
        }
    }

    /// Closes an array or object (`empty`: nothing was written in it).
    fn close(&mut self, empty: bool, bracket: u8) {
        if self.pretty && !empty {
            self.newline();
        }
        self.out.push(bracket);
    }

    fn newline(&mut self) {
        self.out.push(b'\n');
        for _ in 0..self.indent {
            self.out.extend_from_slice(b"  ");
        }
    }
}

/// The key at `index` as the UTF-8 bytes of an object key, or the error for a key that
/// cannot be one (worded as `serde_json` words it).
///
/// # Safety
/// `state` must be a live Lua state with a key at `index` and two free stack slots (for
/// [`shape`]); the slice must not outlive its stay on the stack.
unsafe fn key_bytes<'s>(
    state: *mut ffi::lua_State,
    index: c_int,
) -> std::result::Result<&'s [u8], String> {
    // SAFETY: as the caller promised.
    unsafe {
        match ffi::lua_type(state, index) {
            ffi::LUA_TSTRING => {
                let bytes = string_bytes(state, index);
                match std::str::from_utf8(bytes) {
                    Ok(_) => Ok(bytes),
                    Err(_) => Err("invalid type: byte array, expected a string key".into()),
                }
            }
            ffi::LUA_TNUMBER if ffi::lua_isinteger(state, index) != 0 => Err(format!(
                "invalid type: integer `{}`, expected a string key",
                ffi::lua_tointeger(state, index)
            )),
            ffi::LUA_TNUMBER => Err(format!(
                "invalid type: floating point `{}`, expected a string key",
                ffi::lua_tonumber(state, index)
            )),
            ffi::LUA_TBOOLEAN => Err(format!(
                "invalid type: boolean `{}`, expected a string key",
                ffi::lua_toboolean(state, index) != 0
            )),
            _ => match shape(state, index) {
                Shape::Array(_) => Err("invalid type: sequence, expected a string key".into()),
                Shape::Object => Err("invalid type: map, expected a string key".into()),
            },
        }
    }
}

/// Array or object, by the rules in the module comment.
///
/// # Safety
/// `state` must be the live state of a walk with a table at `index` and two free stack slots.
unsafe fn shape(state: *mut ffi::lua_State, index: c_int) -> Shape {
    // SAFETY: as the caller promised; whatever is pushed is popped.
    unsafe {
        if ffi::lua_getmetatable(state, index) != 0 {
            let is_array = ffi::lua_rawequal(state, -1, ARRAY_MT) != 0;
            ffi::lua_settop(state, -2);
            if is_array {
                return Shape::Array(ffi::lua_rawlen(state, index) as i64);
            }
        }
        let (mut count, mut largest) = (0usize, 0usize);
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, index) != 0 {
            let key = if ffi::lua_type(state, -2) == ffi::LUA_TNUMBER {
                ffi::lua_tonumber(state, -2)
            } else {
                0.0
            };
            ffi::lua_settop(state, -2);
            if key.trunc() != key || key < 1.0 {
                ffi::lua_settop(state, -2);
                return Shape::Object;
            }
            largest = largest.max(key as usize);
            count += 1;
        }
        if largest < 10 || count.saturating_mul(2) >= largest {
            Shape::Array(largest as i64)
        } else {
            Shape::Object
        }
    }
}

fn write_integer(out: &mut Vec<u8>, n: i64) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &n);
}

/// A float as `serde_json` writes it (`1.0`, `1e+300`); NaN and infinities as `null`.
fn write_float(out: &mut Vec<u8>, n: f64) {
    let _ = serde_json::to_writer(&mut *out, &n);
}

/// `text` as a JSON string, escaped as `serde_json` escapes it: `"` `\` and the control
/// characters (`\n` `\r` `\t` `\b` `\f`, others as `\u00xx`); DEL and non-ASCII as they are.
pub fn write_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..at]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(byte >> 4) as usize]);
            out.push(HEX[(byte & 0xf) as usize]);
        } else {
            out.extend_from_slice(escape);
        }
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(lua: &Lua, code: &str, pretty: bool) -> std::result::Result<String, String> {
        let value: Value = lua.load(code).eval().expect("evaluates");
        with_json(lua, value, pretty, |bytes| {
            Ok(String::from_utf8(bytes.to_vec()).expect("utf8"))
        })
        .map_err(|error| error.to_string())
    }

    /// serde_json's own encoding of the same value, the reference of the old encoder.
    fn reference(lua: &Lua, code: &str, pretty: bool) -> std::result::Result<String, String> {
        use mlua::LuaSerdeExt;
        let value: Value = lua.load(code).eval().expect("evaluates");
        let options = mlua::serde::DeserializeOptions::new()
            .deny_unsupported_types(false)
            .sort_keys(true)
            .detect_mixed_tables(true);
        let json: serde_json::Value = lua
            .from_value_with(value, options)
            .map_err(|e| e.to_string())?;
        Ok(if pretty {
            serde_json::to_string_pretty(&json).expect("text")
        } else {
            serde_json::to_string(&json).expect("text")
        })
    }

    #[test]
    fn output_matches_the_serde_path() {
        let lua = Lua::new();
        lua.globals()
            .set(
                "array",
                lua.create_function(|lua, t: Table| {
                    t.set_metatable(Some(mlua::LuaSerdeExt::array_metatable(lua)))?;
                    Ok(t)
                })
                .expect("function"),
            )
            .expect("global");
        let cases = [
            "nil",
            "true",
            "false",
            "42",
            "-7",
            "math.maxinteger",
            "math.mininteger",
            "2.5",
            "1.0",
            "1e300",
            "1e-300",
            "-0.0",
            "0.1",
            "0/0",
            "1/0",
            "-1/0",
            "2^53",
            "2^63",
            "'hello'",
            "'q\"uote\\\\ \\n\\r\\t\\b\\f \\1 \\31 \\127 é / </script>'",
            "{}",
            "{1,2,3}",
            "{1,nil,3}",
            "{b=1,a=2,c={x=1}}",
            "{[1]=1,[3]=3}",
            "{['1']=1,['2']=2}",
            "array({})",
            "array({1,2})",
            "{a={}, b=array({})}",
            "print",
            "{f=print, a=1}",
            "{1, print, 3}",
            "{[print]=1, z=2}",
            "{zeta=1, Alpha=2, alpha=3, ['10']=4, ['9']=5}",
            "{{1,{2,{}}}, {a={}}}",
            "{3.0, 2^53, -2^63}",
            "{[2.0]=1, [1]=2}",
            "{print}",
            "{f=print}",
            "{[1]=1,[9]=9}",
            "{[1]=1,[2]=2,[3]=3,[20]=4,[5]=5,[6]=6,[7]=7,[8]=8,[9]=9,[10]=10}",
            "setmetatable({a=1}, {__index=function() return 1 end})",
            "{'x', {y={true,false}}}",
            "{[1]=1,[1000]=2}",
            "{[-1]=1}",
            "{[0]=1}",
            "{1,2,x=3}",
            "{[1.5]=1}",
            "{[true]=1}",
            "'a\\255b'",
            "{k='a\\255b'}",
            "{[{}]=1}",
        ];
        for case in cases {
            for pretty in [false, true] {
                let ours = encode(&lua, &format!("return {case}"), pretty);
                let theirs = reference(&lua, &format!("return {case}"), pretty);
                assert_eq!(ours, theirs, "{case} (pretty: {pretty})");
            }
        }
    }

    #[test]
    fn cycles_and_depth_are_errors() {
        let lua = Lua::new();
        let cycle = encode(&lua, "local t = {} t.self = t return t", false);
        assert!(
            cycle
                .expect_err("cycle")
                .contains("recursive table detected")
        );
        let shared = encode(&lua, "local s = {1} return {a = s, b = s}", false);
        assert_eq!(shared.expect("shared"), r#"{"a":[1],"b":[1]}"#);
        let nest = |depth: usize| {
            format!(
                "local t = {{}} local d = t for i = 2, {depth} do d.x = {{}} d = d.x end return t"
            )
        };
        assert!(encode(&lua, &nest(DEPTH_LIMIT), false).is_ok());
        let deep = encode(&lua, &nest(DEPTH_LIMIT + 1), false);
        assert!(deep.expect_err("deep").contains("recursion limit exceeded"));
    }

    #[test]
    fn objects_too_big_for_the_lua_stack_still_encode() {
        let lua = Lua::new();
        let code = "local t = {} for i = 1, 600000 do t['k' .. i] = i end return {inner = t}";
        let text = encode(&lua, code, false).expect("encodes");
        assert!(
            text.starts_with(r#"{"inner":{"k1":1,"k10":10,"#),
            "{}",
            &text[..40]
        );
        assert_eq!(text.matches(':').count(), 600001);
    }

    #[test]
    fn strings_escape_as_serde_json_does() {
        let all: String = (0u8..=0x7f).map(char::from).chain("é€😀".chars()).collect();
        let mut ours = Vec::new();
        write_string(&mut ours, &all);
        assert_eq!(
            String::from_utf8(ours).expect("utf8"),
            serde_json::to_string(&all).expect("text")
        );
    }
}
