//! Argument checking for Lua-facing functions. Each `_PY` function takes its arguments as a
//! `MultiValue` and reads them through [`Args`], so a wrong type is an error that names the
//! function and the argument: `_PY.read_file: bad argument #1 (string expected, got table)`.
//! Functions written in Rust reach scripts [`wrapped`] by `plua.checks.wrap`, which raises that
//! message as a plain string at the script's line (`script.lua:3: ...`); an error returned by
//! a Rust callback would otherwise be an mlua error object with a traceback and no line.

use mlua::{Lua, MultiValue, Table, Value};

/// The arguments of one call to a named function.
pub struct Args<'a> {
    lua: &'a Lua,
    name: &'static str,
    values: Vec<Value>,
}

impl<'a> Args<'a> {
    /// Wraps the arguments of a call to `name`.
    pub fn new(lua: &'a Lua, name: &'static str, values: MultiValue) -> Self {
        Args {
            lua,
            name,
            values: values.into_vec(),
        }
    }

    /// Argument `index` (1-based), `nil` if absent.
    pub fn value(&self, index: usize) -> Value {
        self.values.get(index - 1).cloned().unwrap_or(Value::Nil)
    }

    /// An error about this call, named after the function (the [`wrapped`] function adds the
    /// script's position).
    pub fn error(&self, message: impl std::fmt::Display) -> mlua::Error {
        mlua::Error::runtime(format!("{}: {message}", self.name))
    }

    fn bad(&self, index: usize, expected: &str) -> mlua::Error {
        let got = self.value(index).type_name();
        let got = if got == "no value" { "nil" } else { got };
        self.error(format!(
            "bad argument #{index} ({expected} expected, got {got})"
        ))
    }

    /// A string (numbers are converted, as Lua does), binary-safe.
    pub fn string(&self, index: usize) -> mlua::Result<mlua::LuaString> {
        self.opt_string(index)?
            .ok_or_else(|| self.bad(index, "string"))
    }

    /// A string or nil.
    pub fn opt_string(&self, index: usize) -> mlua::Result<Option<mlua::LuaString>> {
        match self.value(index) {
            Value::Nil => Ok(None),
            Value::String(s) => Ok(Some(s)),
            Value::Integer(_) | Value::Number(_) => {
                let text = self.value(index).to_string()?;
                Ok(Some(self.lua.create_string(text)?))
            }
            _ => Err(self.bad(index, "string")),
        }
    }

    /// A UTF-8 string (paths, names).
    pub fn text(&self, index: usize) -> mlua::Result<String> {
        Ok(self.string(index)?.to_str()?.to_owned())
    }

    /// A UTF-8 string or nil.
    pub fn opt_text(&self, index: usize) -> mlua::Result<Option<String>> {
        match self.opt_string(index)? {
            Some(s) => Ok(Some(s.to_str()?.to_owned())),
            None => Ok(None),
        }
    }

    /// An integer (a float with an integral value is accepted).
    pub fn integer(&self, index: usize) -> mlua::Result<i64> {
        match self.value(index) {
            Value::Integer(n) => Ok(n),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 2f64.powi(63) => Ok(n as i64),
            _ => Err(self.bad(index, "integer")),
        }
    }
}

/// `function` wrapped by `plua.checks.wrap`: its errors are raised as plain messages naming
/// `name`, at the line of the script that called it.
pub fn wrapped(lua: &Lua, name: &str, function: mlua::Function) -> mlua::Result<mlua::Function> {
    let checks: Table = lua
        .globals()
        .get::<mlua::Function>("require")?
        .call("plua.checks")?;
    checks.get::<mlua::Function>("wrap")?.call((name, function))
}

/// Registers `name` in `table` as a function reading its arguments through [`Args`].
pub fn add<R, F>(lua: &Lua, table: &Table, name: &'static str, f: F) -> mlua::Result<()>
where
    R: mlua::IntoLuaMulti,
    F: Fn(&Lua, Args) -> mlua::Result<R> + 'static,
{
    let function =
        lua.create_function(move |lua, values: MultiValue| f(lua, Args::new(lua, name, values)))?;
    let key = name.strip_prefix("_PY.").unwrap_or(name);
    table.set(key, function)
}

/// The `name = value` pairs of a headers table (none for `nil`); a non-string name or value is
/// an error.
pub fn string_pairs(table: Option<&Table>) -> mlua::Result<Vec<(String, String)>> {
    match table {
        Some(table) => table.pairs::<String, String>().collect(),
        None => Ok(Vec::new()),
    }
}

/// The Lua convention for failures that are not programming errors: `nil, message`.
pub fn fail(lua: &Lua, message: impl std::fmt::Display) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![
        Value::Nil,
        Value::String(lua.create_string(message.to_string())?),
    ]))
}

/// `nil, message`: the one place where a failure of the socket, TLS, HTTP or WebSocket layers
/// (a typed error, or a message) becomes what the script sees.
pub(crate) fn failure(lua: &Lua, error: impl std::fmt::Display) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![
        Value::Nil,
        Value::String(lua.create_string(error.to_string())?),
    ]))
}
