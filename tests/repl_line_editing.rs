//! The REPL on a terminal (driven through a pseudo-terminal by `support/pty_repl.py`): line
//! editing with history across sessions, tab completion, Ctrl-C, multi-line input, and timers
//! that fire while the prompt waits. Piped stdin is covered by `tests/repl.rs`.

mod support;

use support::*;

const DRIVER: &str = include_str!("support/pty_repl.py");

/// Runs the REPL on a pty with `HOME` = `home`, sending `steps` as (keys, expected output).
/// Returns the output without terminal escapes and the exit status line.
fn session(home: &TempDir, steps: &[(&str, &str)]) -> String {
    let steps: Vec<[&str; 2]> = steps.iter().map(|(k, e)| [*k, *e]).collect();
    let steps = serde_json::to_string(&steps).expect("json");
    let home = home.path().to_string_lossy().into_owned();
    let driver = python(DRIVER, &[env!("CARGO_BIN_EXE_plua"), &home, &steps]);
    let out = driver.finish(GUARD);
    out.assert_code(0);
    out.stdout.clone()
}

#[test]
fn history_is_recalled_with_the_up_arrow_in_the_next_session() {
    let home = TempDir::new();
    let first = session(&home, &[("print('first' .. 1)\r", "first1"), ("\x04", "")]);
    assert!(first.ends_with("exit=0\n"), "{first}");
    let saved = std::fs::read_to_string(home.path().join(".plua_history")).expect("history");
    assert!(saved.contains("print('first' .. 1)"), "{saved}");
    let second = session(
        &home,
        &[
            ("\x1b[A", "print('first' .. 1)"),
            ("\r", "first1"),
            ("\x04", ""),
        ],
    );
    assert!(second.contains("first1"), "{second}");
    assert!(second.ends_with("exit=0\n"), "{second}");
}

#[test]
fn tab_completes_table_fields_and_globals() {
    let home = TempDir::new();
    let out = session(
        &home,
        &[
            ("string.fo\t", "string.format"),
            ("('%03d', 7)\r", "007"),
            ("my_long_global = 5\r", "plua> "),
            ("print(my_lo\t", "my_long_global"),
            (")\r", "5\n"),
            ("\x04", ""),
        ],
    );
    assert!(out.contains("007"), "{out}");
    assert!(out.ends_with("exit=0\n"), "{out}");
}

#[test]
fn a_timer_fires_while_the_prompt_waits_for_input() {
    let home = TempDir::new();
    let out = session(
        &home,
        &[
            (
                "setTimeout(function() print('fired' .. '!') end, 300)\r",
                "plua> ",
            ),
            // Nothing typed: the timer's output arrives while the editor waits.
            ("", "fired!"),
            ("\r", "plua> "),
            ("\x04", ""),
        ],
    );
    assert!(out.contains("fired!"), "{out}");
    assert!(out.ends_with("exit=0\n"), "{out}");
}

#[test]
fn ctrl_c_cancels_the_line_or_the_unfinished_chunk_and_multi_line_input_works() {
    let home = TempDir::new();
    let out = session(
        &home,
        &[
            ("print('half", ""),
            ("\x03", "plua> "),
            ("print('after' .. 1)\r", "after1"),
            ("for i = 1, 2 do\r", ">> "),
            ("\x03", "plua> "),
            ("print('clean' .. 1)\r", "clean1"),
            ("function f()\r", ">> "),
            ("return 5 * 5\r", ">> "),
            ("end\r", "plua> "),
            ("print(f())\r", "25"),
            ("\x04", ""),
        ],
    );
    assert!(
        !out.contains("syntax error") && !out.contains("unfinished"),
        "{out}"
    );
    assert!(
        out.contains("after1") && out.contains("clean1") && out.contains("25"),
        "{out}"
    );
    assert!(out.ends_with("exit=0\n"), "{out}");
}
