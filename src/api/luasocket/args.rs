//! Argument readers for the `socket` module's functions and methods, with LuaSocket-style
//! "bad argument" errors.

use mlua::{Result, Value};

use super::tcp::Pattern;
use crate::api::args::Args;

pub(super) fn bad(args: &Args, index: usize, expected: &str) -> mlua::Error {
    let got = args.value(index).type_name();
    args.error(format!(
        "bad argument #{index} ({expected} expected, got {got})"
    ))
}

/// A number or nil (numeric strings are accepted, as Lua does).
pub(super) fn opt_number(args: &Args, index: usize) -> Result<Option<f64>> {
    match args.value(index) {
        Value::Nil => Ok(None),
        Value::Integer(n) => Ok(Some(n as f64)),
        Value::Number(n) => Ok(Some(n)),
        Value::String(s) => match s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()) {
            Some(n) => Ok(Some(n)),
            None => Err(bad(args, index, "number")),
        },
        _ => Err(bad(args, index, "number")),
    }
}

/// An integer or nil (floats are truncated, as LuaSocket's `(long) luaL_optnumber` does).
pub(super) fn opt_integer(args: &Args, index: usize) -> Result<Option<i64>> {
    match opt_number(args, index)? {
        None => Ok(None),
        Some(n) if n.is_finite() => Ok(Some(n as i64)),
        Some(_) => Err(bad(args, index, "number")),
    }
}

/// A port number (0..=65535), as a number or a numeric string.
pub(super) fn port_arg(args: &Args, index: usize) -> Result<u16> {
    let value = match args.value(index) {
        Value::Nil => return Err(bad(args, index, "port")),
        _ => opt_number(args, index).map_err(|_| bad(args, index, "port"))?,
    };
    match value {
        Some(n) if n.fract() == 0.0 && (0.0..=65535.0).contains(&n) => Ok(n as u16),
        Some(n) => Err(args.error(format!(
            "bad argument #{index} (port 0-65535 expected, got {n})"
        ))),
        None => Err(bad(args, index, "port")),
    }
}

/// `"*a"`/`"a"`, `"*l"`/`"l"` (the default) or a byte count.
pub(super) fn pattern_arg(args: &Args, index: usize) -> Result<Pattern> {
    match args.value(index) {
        Value::Nil => Ok(Pattern::Line),
        Value::Integer(n) if n >= 0 => Ok(Pattern::Bytes(n as usize)),
        Value::Number(n) if n >= 0.0 && n.is_finite() => Ok(Pattern::Bytes(n as usize)),
        Value::String(s) => {
            let bytes = s.as_bytes();
            let body = bytes.strip_prefix(b"*").unwrap_or(&bytes);
            match body.first() {
                Some(b'a') => Ok(Pattern::All),
                Some(b'l') => Ok(Pattern::Line),
                _ => Err(args.error(format!(
                    "bad argument #{index} (receive pattern '*a', '*l' or a byte count \
                     expected, got '{}')",
                    String::from_utf8_lossy(&bytes)
                ))),
            }
        }
        Value::Integer(_) | Value::Number(_) => Err(args.error(format!(
            "bad argument #{index} (receive pattern '*a', '*l' or a byte count expected, got {})",
            args.value(index).to_string().unwrap_or_default()
        ))),
        other => Err(args.error(format!(
            "bad argument #{index} (string or number expected, got {})",
            other.type_name()
        ))),
    }
}
