//! System helpers in `_PY` (time, base64, console input, host and network facts, the list of
//! embedded modules).

use std::io::BufRead;
use std::net::{TcpListener, UdpSocket};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mlua::{Lua, Result, Table, Value};

use super::args::{Args, add, fail};
use super::output::{flush_stdout, write_stdout};

/// Seconds since the Unix epoch, as a float.
pub fn unix_time() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The address this host uses to reach the network (no packet is sent), or loopback.
fn local_ip() -> String {
    UdpSocket::bind("0.0.0.0:0")
        .and_then(|socket| {
            socket.connect("192.0.2.1:9")?;
            socket.local_addr()
        })
        .map(|addr| addr.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".into())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for its length; gethostname NUL-terminates within it on success.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "localhost".into()
    }
}

/// Adds the system functions to `_PY`.
pub fn register(lua: &Lua, py: &Table) -> Result<()> {
    add(lua, py, "_PY.get_time", |_, _args: Args| Ok(unix_time()))?;
    add(lua, py, "_PY.base64_encode", |_, args: Args| {
        Ok(STANDARD.encode(args.string(1)?.as_bytes()))
    })?;
    add(lua, py, "_PY.base64_decode", |lua, args: Args| {
        let text = args.string(1)?;
        let trimmed: Vec<u8> = text
            .as_bytes()
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        match STANDARD.decode(&trimmed) {
            Ok(bytes) => Ok(mlua::MultiValue::from_vec(vec![Value::String(
                lua.create_string(bytes)?,
            )])),
            Err(error) => fail(lua, format!("invalid base64: {error}")),
        }
    })?;
    add(lua, py, "_PY.input_lua", |lua, args: Args| {
        if let Some(prompt) = args.opt_string(1)? {
            write_stdout(&prompt.as_bytes());
        }
        flush_stdout();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => Ok(Value::Nil),
            Ok(_) => {
                let line = line.trim_end_matches(['\n', '\r']);
                Ok(Value::String(lua.create_string(line)?))
            }
        }
    })?;
    add(lua, py, "_PY.get_local_ip", |_, _args: Args| Ok(local_ip()))?;
    add(lua, py, "_PY.get_hostname", |_, _args: Args| Ok(hostname()))?;
    add(lua, py, "_PY.is_port_available", |_, args: Args| {
        let port = args.integer(1)?;
        let host = args.opt_text(2)?.unwrap_or_else(|| "127.0.0.1".into());
        let port =
            u16::try_from(port).map_err(|_| args.error(format!("port {port} is out of range")))?;
        Ok(TcpListener::bind((host.as_str(), port)).is_ok())
    })?;
    Ok(())
}
