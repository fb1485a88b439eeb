//! `lua_stdlib/plua/catalogue.lua` is the one list of `_PY`: every name it lists exists (with
//! its family loaded on first use), every name `_PY` holds is listed, and plain start-up reads
//! none of it.

mod support;

use support::{plua, run, run_script};

#[test]
fn pairs_of_py_and_the_catalogue_list_the_same_names() {
    let out = run_script(
        "local catalogue = require('plua.catalogue')\n\
         local listed, held = {}, {}\n\
         for name in pairs(catalogue.family_of) do listed[name] = true end\n\
         for name in pairs(_PY) do held[name] = true end\n\
         for name in pairs(held) do if not listed[name] then print('not listed', name) end end\n\
         for name in pairs(listed) do if not held[name] then print('missing', name) end end\n\
         local n = 0 for _ in pairs(listed) do n = n + 1 end\n\
         print('checked', n > 80)\n",
        &[],
    );
    out.assert_no_panic()
        .assert_code(0)
        .assert_lines(&["checked\ttrue"]);
}

#[test]
fn each_listed_name_loads_its_family_on_first_lookup() {
    // A fresh process per family: looking a name up is what installs it.
    let out = run_script(
        "local catalogue = require('plua.catalogue')\n\
         for _, family in ipairs(catalogue.families) do\n\
           for _, name in ipairs(family.names) do\n\
             if _PY[name] == nil then print('nil', family.name, name) end\n\
           end\n\
         end\n\
         print('done')\n",
        &[],
    );
    out.assert_no_panic().assert_code(0).assert_lines(&["done"]);
    let out = run_script(
        "print(rawget(_PY, 'tcp_connect') == nil, type(_PY.tcp_connect), rawget(_PY, 'tcp_connect') ~= nil)\n\
         print(rawget(_PY, 'read_file') == nil, type(_PY.read_file))\n\
         print(_PY.no_such_name)\n",
        &[],
    );
    out.assert_code(0)
        .assert_lines(&["true\tfunction\ttrue", "true\tfunction", "nil"]);
}

#[test]
fn plain_start_up_loads_no_family_and_not_the_catalogue() {
    let mut cmd = plua();
    cmd.args([
        "-e",
        "print(package.loaded['plua.catalogue'], package.loaded['plua.sockets'], rawget(_PY, 'read_file'))",
    ]);
    run(cmd).assert_code(0).assert_lines(&["nil\tnil\tnil"]);
}
