//! The QuickApp loaders in plua's own Lua state: the `--%%key:value` header parser
//! (`lua_stdlib/fibaro/headers.lua`) and `.fqa` export decoding (`lua_stdlib/fibaro/fqa.lua`).
//! The first input byte picks the loader. Both must return a result or `nil, message`: a Lua
//! error escaping them (or a hang, caught by libFuzzer's timeout) is a finding.
#![no_main]

use std::cell::RefCell;
use std::rc::Rc;

use libfuzzer_sys::fuzz_target;
use mlua::Function;
use plua::lua::state::{LuaSetup, new_state};
use plua::sockets::{Reactor, SharedReactor};

const DRIVER: &str = r#"
local headers = require("fibaro.headers")
local fqa = require("fibaro.fqa")
return function(mode, text)
  if mode % 2 == 0 then
    local parsed, err = headers.parse(text, "fuzz.lua", function() end)
    assert(parsed ~= nil or type(err) == "string", "headers.parse: no result and no message")
  else
    local qa, err = fqa.decode(text, "/tmp/fuzz.fqa")
    assert(qa ~= nil or type(err) == "string", "fqa.decode: no result and no message")
  end
end
"#;

thread_local! {
    static DRIVE: (mlua::Lua, Function, LuaSetup, SharedReactor) = {
        let reactor = Rc::new(RefCell::new(Reactor::new().expect("reactor")));
        let setup = new_state(&reactor, false).expect("plua state");
        let lua = setup.lua.clone();
        let drive = lua.load(DRIVER).set_name("=fuzz").call::<Function>(()).expect("driver");
        // The state and its reactor live as long as the fuzzing process.
        (lua, drive, setup, reactor)
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, text)) = data.split_first() else {
        return;
    };
    DRIVE.with(|(lua, drive, _, _)| {
        let text = lua.create_string(text).expect("string");
        if let Err(error) = drive.call::<()>((mode, text)) {
            panic!("a QuickApp loader raised instead of returning nil, message:\n{error}");
        }
    });
});
