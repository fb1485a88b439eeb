//! The Lua <-> JSON bridge (`_PY.parse_json` / `_PY.to_json`): any bytes decode to a Lua value
//! or a clean error; a decoded value always encodes; encoding is stable across a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plua::api::json::{decode, encode};

thread_local! {
    static LUA: mlua::Lua = mlua::Lua::new();
}

fuzz_target!(|data: &[u8]| {
    LUA.with(|lua| {
        let Ok(value) = decode(lua, data) else {
            return;
        };
        let value = value.expect("a valid document converts to Lua");
        let first = encode(lua, value, false).expect("a decoded value encodes");
        let again = decode(lua, &first.as_bytes())
            .expect("our own output parses")
            .expect("converts");
        let second = encode(lua, again, false).expect("encodes again");
        assert_eq!(first, second, "encoding is not stable");
        let _ = encode(lua, decode(lua, data).unwrap().unwrap(), true).expect("pretty");
        lua.gc_collect().ok();
    });
});
