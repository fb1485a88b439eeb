//! The default `package.path` and `package.cpath`: the folders Debian's `lua5.4` program
//! searches, so `require` finds the Lua 5.4 modules Debian packages (`lua-lpeg`, `lua-cjson`,
//! `lua-socket`, ...) and those installed under `/usr/local` (luarocks), Lua files and native
//! C modules alike.
//!
//! The vendored Lua core has the upstream defaults (`/usr/local` only). They are replaced where
//! they appear, so `LUA_PATH`/`LUA_CPATH` (and their `_5_4` forms) keep working as in stock Lua:
//! a variable without `;;` is used as it is; `;;` in it stands for the defaults below.

use mlua::{Lua, Result, Table};

/// Upstream Lua 5.4's `LUA_PATH_DEFAULT` for Unix, as the vendored core sets it.
const UPSTREAM_PATH: &str = "/usr/local/share/lua/5.4/?.lua;/usr/local/share/lua/5.4/?/init.lua;\
/usr/local/lib/lua/5.4/?.lua;/usr/local/lib/lua/5.4/?/init.lua;./?.lua;./?/init.lua";

/// Upstream Lua 5.4's `LUA_CPATH_DEFAULT` for Unix.
const UPSTREAM_CPATH: &str = "/usr/local/lib/lua/5.4/?.so;/usr/local/lib/lua/5.4/loadall.so;./?.so";

/// Debian's multiarch triplet for the build target: where its native Lua modules live.
const MULTIARCH: &str = if cfg!(target_arch = "x86_64") {
    "x86_64-linux-gnu"
} else if cfg!(target_arch = "aarch64") {
    "aarch64-linux-gnu"
} else if cfg!(all(target_arch = "arm", target_abi = "eabihf")) {
    "arm-linux-gnueabihf"
} else if cfg!(target_arch = "arm") {
    "arm-linux-gnueabi"
} else if cfg!(target_arch = "x86") {
    "i386-linux-gnu"
} else if cfg!(target_arch = "riscv64") {
    "riscv64-linux-gnu"
} else {
    "unknown-linux-gnu"
};

/// Debian's `lua5.4` `package.path`.
pub fn default_path() -> String {
    "/usr/local/share/lua/5.4/?.lua;/usr/local/share/lua/5.4/?/init.lua;\
     /usr/local/lib/lua/5.4/?.lua;/usr/local/lib/lua/5.4/?/init.lua;\
     /usr/share/lua/5.4/?.lua;/usr/share/lua/5.4/?/init.lua;./?.lua;./?/init.lua"
        .to_owned()
}

/// Debian's `lua5.4` `package.cpath`, with the build target's multiarch folder.
pub fn default_cpath() -> String {
    format!(
        "/usr/local/lib/lua/5.4/?.so;/usr/lib/{MULTIARCH}/lua/5.4/?.so;/usr/lib/lua/5.4/?.so;\
         /usr/local/lib/lua/5.4/loadall.so;./?.so"
    )
}

/// Puts Debian's defaults in place of the upstream ones in `package.path` and `package.cpath`.
pub fn install(lua: &Lua) -> Result<()> {
    let package: Table = lua.globals().get("package")?;
    for (field, upstream, ours) in [
        ("path", UPSTREAM_PATH, default_path()),
        ("cpath", UPSTREAM_CPATH, default_cpath()),
    ] {
        let current: String = package.get(field)?;
        package.set(field, current.replacen(upstream, &ours, 1))?;
    }
    Ok(())
}
