//! Embeds every file under `lua_stdlib/` into the binary: `.lua` files as a table of
//! (module name, chunk name, source) that the `require` searcher in `src/lua/stdlib.rs` reads
//! (`lua_stdlib/net.lua` becomes module `net`; `lua_stdlib/fibaro/init.lua` becomes `fibaro`),
//! and every other file (JSON, HTML, CSS, JS data) as a table of (path under `lua_stdlib/`,
//! bytes) that `_PY.embedded_file` reads. Files whose name starts with `.` are left out.

use std::fs;
use std::path::{Path, PathBuf};

/// Lua modules and data files found under `lua_stdlib/`.
#[derive(Default)]
struct Found {
    modules: Vec<(String, PathBuf)>,
    assets: Vec<(String, PathBuf)>,
}

fn collect(dir: &Path, prefix: &str, out: &mut Found) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(&path, &format!("{prefix}{name}."), out);
        } else if let Some(stem) = name.strip_suffix(".lua") {
            let module = if stem == "init" && !prefix.is_empty() {
                prefix.trim_end_matches('.').to_owned()
            } else {
                format!("{prefix}{stem}")
            };
            out.modules.push((module, path));
        } else {
            let folder = prefix.replace('.', "/");
            out.assets.push((format!("{folder}{name}"), path));
        }
    }
}

/// True when the C runtime is linked statically (the musl targets' default).
fn static_crt() -> bool {
    // Build scripts do not always see `crt-static` among the target features; musl targets
    // link statically unless told otherwise.
    std::env::var("CARGO_CFG_TARGET_FEATURE")
        .is_ok_and(|features| features.split(',').any(|f| f == "crt-static"))
        || std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("musl")
}

/// Exports the Lua C API (`lua_*`, `luaL_*`, `luaopen_*`) from the binary's dynamic symbol
/// table, as the `lua` program's `-Wl,-E` does, so native Lua 5.4 modules (`lpeg.so`,
/// `cjson.so`, ...) that `require` loads with `dlopen` resolve their calls to the Lua core linked
/// into plua. A dynamic list instead of `-rdynamic` keeps the thousands of Rust symbols out of
/// the table; the linker also keeps every listed function, even those plua itself never calls.
fn export_lua_api() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    // A static binary has no dynamic loader: it cannot load C modules at all.
    if target_os != "linux" || static_crt() {
        return;
    }
    let list = PathBuf::from(std::env::var("OUT_DIR").expect("out dir")).join("lua_api.list");
    fs::write(&list, "{\n  lua_*;\n  luaL_*;\n  luaopen_*;\n};\n").expect("write lua_api.list");
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--dynamic-list={}",
        list.display()
    );
}

/// Hands `src/startup.order` (written by `scripts/startup_order.sh`) to the linker: the
/// functions every run executes go together at the front of `.text`. The kernel maps 64 KB of
/// a file around each page fault, so hot code spread over the whole text segment costs about
/// three times its size in resident memory: peak RSS of `plua -e ''` is about 1 MB lower with
/// the order. Only with rustc's default linker on x86_64 Linux, `rust-lld`, which reads the file
/// (GNU ld does not): not when cross-compiling, for static builds, or when RUSTFLAGS choose the
/// linker; `PLUA_NO_STARTUP_ORDER=1` turns it off.
fn order_startup_code() {
    println!("cargo:rerun-if-env-changed=PLUA_NO_STARTUP_ORDER");
    println!("cargo:rerun-if-changed=src/startup.order");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let own_linker = flags.contains("linker") || flags.contains("fuse-ld");
    if target != "x86_64-unknown-linux-gnu"
        || host != target
        || static_crt()
        || own_linker
        || std::env::var_os("PLUA_NO_STARTUP_ORDER").is_some()
    {
        return;
    }
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let order = root.join("src/startup.order");
    if order.is_file() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// Strips release binaries at link time. The profile says `strip = false` because cargo's
/// `strip` setting changes every crate's build hash and so every symbol name, and the names in
/// `src/startup.order` must be those of the release build; `scripts/startup_order.sh` sets
/// `PLUA_KEEP_SYMBOLS=1` to get the same binary with its symbols.
fn strip_binary() {
    println!("cargo:rerun-if-env-changed=PLUA_KEEP_SYMBOLS");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let debug = std::env::var("DEBUG")
        .as_deref()
        .is_ok_and(|d| d != "false" && d != "0");
    if release && !debug && std::env::var_os("PLUA_KEEP_SYMBOLS").is_none() {
        println!("cargo:rustc-link-arg-bins=-Wl,--strip-all");
    }
}

fn main() {
    // Link the binary as a non-PIE executable on Linux: the dynamic loader then has no
    // relocations to apply at start-up, which keeps start-up time and resident memory down
    // (about 0.5 MB less RSS for `plua -e ''` on x86_64).
    // Not for a static (musl) build: rustc links those as static-pie with its own start files,
    // and `-no-pie` on top gives a binary that crashes at start.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") && !static_crt() {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    order_startup_code();
    strip_binary();
    export_lua_api();
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let stdlib = root.join("lua_stdlib");
    println!("cargo:rerun-if-changed=lua_stdlib");
    let mut found = Found::default();
    collect(&stdlib, "", &mut found);
    // Each file's bytes go into one section of their own, `.plua_embedded`, which the linker
    // places after `.rodata` as one block: start-up reads a few of them (the prelude), and
    // kept apart from the hot read-only data, the rest are never paged in (the kernel maps
    // read-only pages around each fault, so interleaved files cost resident memory).
    let mut code = String::new();
    let mut blob = |index: usize, path: &Path, text: bool| -> String {
        let bytes =
            fs::read(path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
        if text && std::str::from_utf8(&bytes).is_err() {
            panic!("{} is not UTF-8", path.display());
        }
        code.push_str(&format!(
            "#[unsafe(link_section = \".plua_embedded\")]\nstatic F{index}: [u8; {len}] = *include_bytes!({path:?});\n",
            len = bytes.len(),
            path = path.display().to_string(),
        ));
        format!("F{index}")
    };
    let mut files =
        String::from("/// Embedded `lua_stdlib/` files: (module, chunk name, source).\n");
    files.push_str("pub static FILES: &[(&str, &str, &str)] = &[\n");
    let mut index = 0;
    for (module, path) in &found.modules {
        println!("cargo:rerun-if-changed={}", path.display());
        let relative = path.strip_prefix(&root).unwrap_or(path);
        let name = blob(index, path, true);
        index += 1;
        files.push_str(&format!(
            "    ({module:?}, {chunk:?}, unsafe {{ std::str::from_utf8_unchecked(&{name}) }}),\n",
            chunk = format!("@{}", relative.display()),
        ));
    }
    files.push_str("];\n");
    files.push_str("/// Embedded data files: (path under `lua_stdlib/`, bytes).\n");
    files.push_str("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for (name, path) in &found.assets {
        println!("cargo:rerun-if-changed={}", path.display());
        let blob_name = blob(index, path, false);
        index += 1;
        files.push_str(&format!("    ({name:?}, &{blob_name}),\n"));
    }
    files.push_str("];\n");
    code.push_str("// SAFETY (for the `from_utf8_unchecked` above): build.rs checked every module is UTF-8.\n");
    code.push_str(&files);
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("out dir")).join("stdlib_files.rs");
    fs::write(out, code).expect("write stdlib_files.rs");
}
