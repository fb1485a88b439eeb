//! Shared helpers for the end-to-end tests: every test spawns the real `plua` binary as a child
//! process, writes its Lua scripts into a fresh temporary directory and guards every run with a
//! generous timeout so that a hanging runtime fails the test instead of hanging the suite.
//! By concern: the process under test, real peers, HTTP helpers, a throw-away PKI.
#![allow(dead_code)]

mod http;
mod peers;
mod pki;
mod process;

// Each test binary uses some of the helpers only.
#[allow(unused_imports)]
pub use http::*;
#[allow(unused_imports)]
pub use peers::*;
#[allow(unused_imports)]
pub use pki::*;
#[allow(unused_imports)]
pub use process::*;
