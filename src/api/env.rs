//! Environment variables in `_PY`. `get_env_var(name, default)` also reads `.env` files (in the
//! current directory and up to three parents, nearest first) without overriding the real
//! environment; the files are read on first use, not at start-up.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use mlua::{Lua, Result, Table};

use super::args::{Args, add};

/// Parses `.env` text: `KEY=value` lines, optional `export `, `#` comments, quoted values.
pub fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let value = if value.len() >= 2
                && ((value.starts_with('"') && value.ends_with('"'))
                    || (value.starts_with('\'') && value.ends_with('\'')))
            {
                &value[1..value.len() - 1]
            } else {
                value.split(" #").next().unwrap_or(value).trim()
            };
            Some((key.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

fn dotenv() -> &'static HashMap<String, String> {
    static DOTENV: OnceLock<HashMap<String, String>> = OnceLock::new();
    DOTENV.get_or_init(|| {
        let mut values = HashMap::new();
        let Ok(cwd) = std::env::current_dir() else {
            return values;
        };
        let mut dir: Option<&Path> = Some(&cwd);
        for _ in 0..4 {
            let Some(current) = dir else { break };
            if let Ok(text) = std::fs::read_to_string(current.join(".env")) {
                for (key, value) in parse_dotenv(&text) {
                    values.entry(key).or_insert(value);
                }
            }
            dir = current.parent();
        }
        values
    })
}

/// Looks `name` up in the environment, then in `.env` files.
pub fn lookup(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .or_else(|| dotenv().get(name).cloned())
}

/// Adds the environment functions to `_PY`.
pub fn register(lua: &Lua, py: &Table) -> Result<()> {
    add(lua, py, "_PY.get_env_var", |lua, args: Args| {
        let name = args.text(1)?;
        match lookup(&name) {
            Some(value) => Ok(mlua::Value::String(lua.create_string(value)?)),
            None => Ok(args.value(2)),
        }
    })?;
    add(lua, py, "_PY.set_env_var", |_, args: Args| {
        let name = args.text(1)?;
        let value = args.text(2)?;
        if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
            return Err(args.error(format!(
                "invalid environment variable name or value: {name:?}"
            )));
        }
        // SAFETY: plua is single-threaded when Lua runs; worker threads never read the
        // environment.
        unsafe { std::env::set_var(name, value) };
        Ok(true)
    })?;
    add(lua, py, "_PY.get_all_env_vars", |lua, _args: Args| {
        let table = lua.create_table()?;
        for (key, value) in dotenv() {
            table.set(key.as_str(), value.as_str())?;
        }
        for (key, value) in std::env::vars_os() {
            table.set(
                lua.create_string(key.as_encoded_bytes())?,
                lua.create_string(value.as_encoded_bytes())?,
            )?;
        }
        Ok(table)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_dotenv;

    #[test]
    fn dotenv_lines() {
        let parsed = parse_dotenv("# c\nA=1\nexport B = \"two words\"\nC='x' \nD=v # note\nbad\n");
        let expected = [("A", "1"), ("B", "two words"), ("C", "x"), ("D", "v")];
        assert_eq!(parsed.len(), expected.len());
        for ((key, value), (k, v)) in parsed.iter().zip(expected) {
            assert_eq!((key.as_str(), value.as_str()), (k, v));
        }
    }
}
