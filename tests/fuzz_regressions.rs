//! Inputs the fuzz targets (fuzz/, scripts/fuzz.sh) once crashed on, replayed through the real
//! binary: each file under `tests/fuzz_inputs/<target>/` is fed to what the target exercises,
//! with the invariant it broke. Add a crash's input there when fixing it.

mod support;

use std::path::{Path, PathBuf};

use support::{TempDir, plua, run};

/// The saved inputs of fuzz target `target`, sorted by name.
fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_inputs")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Runs `script` with the input file's path as `arg[1]`; it prints `ok` when the invariant holds.
fn check(target: &str, script: &str) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no saved inputs for {target}");
    let dir = TempDir::new();
    dir.write("check.lua", script);
    for file in files {
        let mut cmd = plua();
        cmd.current_dir(dir.path()).arg("check.lua").arg(&file);
        let out = run(cmd);
        out.assert_no_panic();
        assert_eq!(
            out.stdout.trim_end(),
            "ok",
            "{}: {}",
            file.display(),
            out.stderr
        );
        out.assert_code(0);
    }
}

/// The first input byte selects the mode in some targets; the rest is the payload.
const READ_INPUT: &str = "local f = assert(io.open(arg[1], 'rb'))\n\
                          local data = f:read('a')\n\
                          f:close()\n";

#[test]
fn json_bridge_inputs_round_trip_stably() {
    check(
        "json_bridge",
        &format!(
            "{READ_INPUT}\
             local value = _PY.parse_json(data)\n\
             if value ~= nil then\n\
               local first = _PY.to_json(value)\n\
               local second = _PY.to_json(_PY.parse_json(first))\n\
               assert(first == second, first .. ' became ' .. second)\n\
             end\n\
             print('ok')\n"
        ),
    );
}

#[test]
fn json_numbers_parse_to_the_nearest_double() {
    let dir = TempDir::new();
    dir.write(
        "numbers.lua",
        "for _, text in ipairs({ '1.8447744073709554e+32', '0.1', '2.2250738585072014e-308',\n\
                                  '1.7976931348623157e308', '5e-324', '123456789012345.67' }) do\n\
           assert(_PY.parse_json(text) == tonumber(text), text)\n\
           assert(_PY.parse_json(_PY.to_json(tonumber(text))) == tonumber(text), text)\n\
         end\n\
         print('ok')\n",
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path()).arg("numbers.lua");
    let out = run(cmd);
    out.assert_code(0).assert_lines(&["ok"]);
}

#[test]
fn quickapp_loader_inputs_return_a_result_or_a_message_naming_the_file() {
    // Byte 1 picks the loader as in fuzz/fuzz_targets/quickapp_files.rs: even = headers, odd = .fqa.
    check(
        "quickapp_files",
        &format!(
            "{READ_INPUT}\
             local mode, text = data:byte(1), data:sub(2)\n\
             local result, err\n\
             if mode % 2 == 0 then\n\
               result, err = require('fibaro.headers').parse(text, 'fuzz.lua', function() end)\n\
               assert(result or err:find('fuzz.lua:', 1, true), err)\n\
             else\n\
               result, err = require('fibaro.fqa').decode(text, '/tmp/fuzz.fqa')\n\
               assert(result or err:find('/tmp/fuzz.fqa: ', 1, true), err)\n\
             end\n\
             print('ok')\n"
        ),
    );
}
