//! Data files under `lua_stdlib/` (anything but `.lua`) are embedded by build.rs and readable
//! from Lua: `_PY.embedded_file(path)` and `_PY.embedded_files([prefix])`.

mod support;

use support::run_script;

#[test]
fn an_embedded_data_file_reads_back_byte_for_byte() {
    let source = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/lua_stdlib/plua/repl_help.txt"
    ))
    .expect("the help text exists in the source tree");
    let out = run_script(
        "local text = _PY.embedded_file('plua/repl_help.txt')\n\
         print(#text)\n\
         print(text:match('^[^\\n]*'))\n",
        &[],
    );
    out.assert_code(0);
    let first_line = String::from_utf8_lossy(&source)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    out.assert_lines(&[&source.len().to_string(), &first_line]);
}

#[test]
fn embedded_files_lists_data_files_but_no_lua_modules() {
    let out = run_script(
        "local all = _PY.embedded_files()\n\
         local has_help, has_lua = false, false\n\
         for _, path in ipairs(all) do\n\
           if path == 'plua/repl_help.txt' then has_help = true end\n\
           if path:match('%.lua$') then has_lua = true end\n\
         end\n\
         print(has_help, has_lua, #_PY.embedded_files('plua/'), #_PY.embedded_files('nothing/'))\n",
        &[],
    );
    out.assert_code(0).assert_stdout_contains("true\tfalse\t");
    out.assert_stdout_contains("\t0");
}

#[test]
fn a_missing_embedded_file_is_nil_and_a_message() {
    let out = run_script(
        "print(_PY.embedded_file('no/such.json'))\n\
         print(pcall(_PY.embedded_file, {}))\n",
        &[],
    );
    out.assert_code(0)
        .assert_stdout_contains("nil\tno embedded file 'no/such.json'")
        .assert_stdout_contains("bad argument #1");
}
