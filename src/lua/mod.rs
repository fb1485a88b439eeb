//! Everything that touches the Lua state directly: creating it, the embedded library, and the
//! task coroutines callbacks run in.

pub mod closing;
pub mod coroutines;
pub mod interrupt;
pub mod memory;
pub mod raw_events;
pub mod search_paths;
pub mod state;
pub mod stdlib;
pub mod task_hook;
pub mod tasks;
pub mod values;
pub mod warnings;
