//! `plua`: command line → runtime → exit status. Nothing else lives here.

use std::process::ExitCode;

use plua::cli::Command;
use plua::{api, cli, repl, runtime};

fn main() -> ExitCode {
    let code = match cli::parse(std::env::args_os().collect()) {
        Ok(Command::Help) => {
            print!("{}", cli::usage());
            0
        }
        Ok(Command::Version) => {
            println!("plua {} ({})", env!("CARGO_PKG_VERSION"), mlua_version());
            0
        }
        Ok(Command::Run(options)) => match runtime::Runtime::new(*options) {
            Ok(mut runtime) => {
                let code = runtime.run();
                runtime.close();
                // A finalizer that ran at the close may have called os.exit(n).
                plua::lua::closing::status_requested_while_closing().unwrap_or(code)
            }
            Err(error) => {
                eprintln!("plua: {error}");
                1
            }
        },
        Err(error) => {
            eprintln!("plua: {error}\nTry 'plua --help' for more information.");
            2
        }
    };
    api::output::flush_stdout();
    repl::restore_stdin();
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn mlua_version() -> &'static str {
    "Lua 5.4"
}
