//! Task coroutines: every callback the runtime invokes runs in its own coroutine. This module
//! starts and resumes them and recycles finished ones (`Thread::reset` on a pooled coroutine is
//! several times cheaper than creating one). It reports what happened as an [`Outcome`]; the
//! runtime decides what an error means (exit for the main chunk, a log line for a callback).
//!
//! Every task coroutine handed a callback (new or recycled) is passed to the debugger's hook
//! installer first, if one is set (`task_hook`).

use mlua::thread::ThreadStatus;
use std::panic::AssertUnwindSafe;

use mlua::{
    FromLuaMulti, Function, IntoLuaMulti, Lua, LuaString, MultiValue, RegistryKey, Result, Table,
    Thread, Value, ffi,
};

use crate::event::Val;
use crate::lua::coroutines;
use crate::lua::interrupt::RunningGuard;
use crate::lua::raw_events;
use crate::lua::task_hook;
use crate::lua::values::to_lua_multi;

/// Finished coroutines kept for reuse; more than this are left to the garbage collector.
const IDLE_LIMIT: usize = 256;

/// Passes `thread` to the debugger's hook installer, if one is set. Its errors are reported
/// and otherwise ignored: a faulty debugger must not stop the callback.
#[inline]
fn install_hook(lua: &Lua, thread: &Thread) {
    if let Err(error) = task_hook::install(lua, thread) {
        eprintln!("plua: debugger hook: {}", describe_error(&error));
    }
}

/// How a resume ended.
pub enum Outcome {
    /// The coroutine returned these values.
    Finished(MultiValue),
    /// The coroutine yielded (to wait for an operation, or for user code to resume it).
    Suspended,
    /// The coroutine raised an error: message and traceback.
    Failed(String),
}

/// The pool of task coroutines and the Lua hooks tasks run through.
pub struct Tasks {
    lua: Lua,
    idle: Vec<Thread>,
    run_completion: Function,
    run_event: Function,
    callbacks: Table,
    /// Extra arguments of timers (`arguments[id] = table.pack(...)`), from the prelude.
    arguments: Table,
    /// Registry references of `callbacks` and `arguments`, for the raw timer path.
    callbacks_key: RegistryKey,
    arguments_key: RegistryKey,
    /// Registry reference of the prelude's `listeners`, for the raw event path
    /// (`raw_events.rs`).
    listeners_key: RegistryKey,
    waiting: Table,
    /// Event names already made into Lua strings (a handful: "request", "data", ...).
    event_names: Vec<EventName>,
}

/// An event name as a Lua string, and its registry slot for the raw event path.
struct EventName {
    event: &'static str,
    string: LuaString,
    key: RegistryKey,
}

impl Tasks {
    /// `hooks` is the table the prelude returned (`run_timer`, `waiting`).
    pub fn new(lua: &Lua, hooks: &Table) -> Result<Tasks> {
        task_hook::register_module(lua)?;
        let callbacks: Table = hooks.get("callbacks")?;
        let arguments: Table = hooks.get("arguments")?;
        let run_event: Function = hooks.get("run_event")?;
        Ok(Tasks {
            listeners_key: lua.create_registry_value(hooks.get::<Table>("listeners")?)?,
            callbacks_key: lua.create_registry_value(callbacks.clone())?,
            arguments_key: lua.create_registry_value(arguments.clone())?,
            lua: lua.clone(),
            idle: Vec::with_capacity(IDLE_LIMIT),
            run_completion: hooks.get("run_completion")?,
            run_event,
            callbacks,
            arguments,
            waiting: hooks.get("waiting")?,
            event_names: Vec::new(),
        })
    }

    /// Runs `func(args)` in a new task coroutine (main chunks, REPL lines, event handlers).
    pub fn start(&mut self, func: &Function, args: impl IntoLuaMulti) -> (Thread, Outcome) {
        match self.lua.create_thread(func.clone()) {
            Ok(thread) => {
                install_hook(&self.lua, &thread);
                let outcome = resume(&thread, args);
                (thread, outcome)
            }
            Err(error) => failed_outside(&self.lua, &error),
        }
    }

    /// Runs the callback of timer `id` (`finished`: its last firing) in a task coroutine: the
    /// callback is the coroutine's body itself (no Lua frame of the library under it), with the
    /// extra arguments `setTimeout` was given. `None` if the timer has no callback.
    pub fn run_timer(&mut self, id: u64, finished: bool) -> Option<(Thread, Outcome)> {
        let thread = match raw_coroutine(&self.lua, &mut self.idle, &self.run_completion) {
            Ok(thread) => thread,
            Err(error) => return Some(failed_outside(&self.lua, &error)),
        };
        let keys = (self.callbacks_key.id(), self.arguments_key.id());
        let state = thread.to_pointer() as *mut ffi::lua_State;
        // SAFETY: pooled coroutines are finished and fresh ones not started: nothing runs on
        // them, and `prepare_timer_task` only reads and clears slots of two plain tables.
        let prepared = unsafe { prepare_timer_task(state, keys, id, finished) };
        let args = match prepared {
            TimerTask::Missing => {
                self.idle.push(thread);
                return None;
            }
            TimerTask::Ready => {
                // SAFETY: `state` is `thread`'s, holding only its body, not running.
                return Some(unsafe {
                    run_bare_callback(&self.lua, &mut self.idle, thread, state, 0)
                });
            }
            TimerTask::ReadyWithArguments => match self.timer_arguments(id, finished) {
                Ok(args) => args,
                Err(error) => return Some((thread, Outcome::Failed(describe_error(&error)))),
            },
        };
        Some(run_prepared_callback(
            &self.lua,
            &mut self.idle,
            thread,
            args,
        ))
    }

    /// The extra arguments of timer `id` (cleared on its last firing).
    fn timer_arguments(&self, id: u64, finished: bool) -> Result<MultiValue> {
        let packed: Table = self.arguments.raw_get(id)?;
        if finished {
            self.arguments.raw_set(id, Value::Nil)?;
        }
        let count: i64 = packed.raw_get("n")?;
        (1..=count)
            .map(|index| packed.raw_get::<Value>(index))
            .collect()
    }

    /// Operation `op` finished: resumes the coroutine waiting on it, or runs its callback in a
    /// task coroutine. `None` if nobody cares about the result.
    pub fn complete(&mut self, op: u64, values: MultiValue) -> Option<(Thread, Outcome)> {
        if self.waiting.contains_key(op).unwrap_or(false) {
            return self.resume_waiter(op, values);
        }
        if !self.callbacks.contains_key(op).unwrap_or(false) {
            return None;
        }
        let mut args = values;
        args.push_front(Value::Integer(op as i64));
        Some(run_pooled(
            &self.lua,
            &mut self.idle,
            &self.run_completion,
            args,
        ))
    }

    /// Runs the `event` listener of `owner` (a server or socket) with `values` in a task
    /// coroutine.
    pub fn emit(
        &mut self,
        owner: u64,
        event: &'static str,
        values: impl IntoLuaMulti,
    ) -> (Thread, Outcome) {
        let name = match self.event_name(event) {
            Ok(name) => name.string.clone(),
            Err(error) => return failed_outside(&self.lua, &error),
        };
        let args = (owner as i64, name, values);
        run_pooled(&self.lua, &mut self.idle, &self.run_event, args)
    }

    /// [`Tasks::emit`] for values straight from a socket event: with plain ones (no tables)
    /// the listener is called as the task coroutine's body, its arguments pushed with the C
    /// API (`raw_events.rs`): the hot path of TCP data, UDP datagrams and WebSocket messages.
    /// `None` if `owner` has no listener for `event`.
    pub fn emit_values(
        &mut self,
        owner: u64,
        event: &'static str,
        args: Vec<Val>,
    ) -> Option<(Thread, Outcome)> {
        if !raw_events::all_plain(&args) {
            return Some(match to_lua_multi(&self.lua, args) {
                Ok(values) => self.emit(owner, event, values),
                Err(error) => failed_outside(&self.lua, &error),
            });
        }
        let event_slot = match self.event_name(event) {
            Ok(name) => name.key.id(),
            Err(error) => return Some(failed_outside(&self.lua, &error)),
        };
        let slots = raw_events::ListenerSlots {
            listeners: self.listeners_key.id(),
            event: event_slot,
        };
        let thread = match raw_coroutine(&self.lua, &mut self.idle, &self.run_event) {
            Ok(thread) => thread,
            Err(error) => return Some(failed_outside(&self.lua, &error)),
        };
        let state = thread.to_pointer() as *mut ffi::lua_State;
        // SAFETY: pooled coroutines are finished and fresh ones not started; `args` holds no
        // tables (checked above).
        match unsafe { raw_events::push_listener_call(state, slots, owner, &args) } {
            // SAFETY: `state` is `thread`'s, holding the listener and its `nargs` arguments.
            Ok(Some(nargs)) => {
                Some(unsafe { run_bare_callback(&self.lua, &mut self.idle, thread, state, nargs) })
            }
            Ok(None) => {
                self.idle.push(thread);
                None
            }
            Err(error) => Some((thread, Outcome::Failed(describe_error(&error)))),
        }
    }

    /// `event` as a Lua string, made once.
    fn event_name(&mut self, event: &'static str) -> Result<&EventName> {
        let known = self
            .event_names
            .iter()
            .position(|name| std::ptr::eq(name.event, event) || name.event == event);
        let index = match known {
            Some(index) => index,
            None => {
                let string = self.lua.create_string(event)?;
                let key = self.lua.create_registry_value(string.clone())?;
                self.event_names.push(EventName { event, string, key });
                self.event_names.len() - 1
            }
        };
        Ok(&self.event_names[index])
    }

    /// Resumes the coroutine waiting on operation `id` with `(id, results...)`; `None` if no
    /// coroutine waits on it.
    pub fn resume_waiter(&mut self, id: u64, results: MultiValue) -> Option<(Thread, Outcome)> {
        let thread: Thread = self.waiting.raw_get(id).ok()?;
        let _ = self.waiting.raw_set(id, mlua::Nil);
        let mut args = results;
        args.push_front(mlua::Value::Integer(id as i64));
        let outcome = resume(&thread, args);
        Some((thread, outcome))
    }
}

/// Runs `body(args)` in a task coroutine recycled from `idle`. Bodies return `true` when the
/// coroutine may be reused (no handle to it escaped to user code).
fn run_pooled(
    lua: &Lua,
    idle: &mut Vec<Thread>,
    body: &Function,
    args: impl IntoLuaMulti,
) -> (Thread, Outcome) {
    let thread = match pooled_thread(lua, idle, body) {
        Ok(thread) => thread,
        Err(error) => return failed_outside(lua, &error),
    };
    install_hook(lua, &thread);
    let outcome = match guarded_resume::<Option<bool>>(&thread, args) {
        Ok(recyclable) => {
            if thread.status() != ThreadStatus::Finished {
                Outcome::Suspended
            } else {
                if recyclable == Some(true) && idle.len() < IDLE_LIMIT {
                    idle.push(thread.clone());
                }
                Outcome::Finished(MultiValue::new())
            }
        }
        Err(error) => Outcome::Failed(describe_error(&error)),
    };
    (thread, outcome)
}

/// A task coroutine for the raw paths, which put their own body on it: one recycled from
/// `idle` as it is, or a new one made with `body`.
fn raw_coroutine(lua: &Lua, idle: &mut Vec<Thread>, body: &Function) -> Result<Thread> {
    match idle.pop() {
        Some(thread) => Ok(thread),
        None => lua.create_thread(body.clone()),
    }
}

/// The outcome of a task that failed before any coroutine of its own ran.
fn failed_outside(lua: &Lua, error: &mlua::Error) -> (Thread, Outcome) {
    (lua.current_thread(), Outcome::Failed(describe_error(error)))
}

/// A task coroutine for `body`: one recycled from `idle`, or a new one.
fn pooled_thread(lua: &Lua, idle: &mut Vec<Thread>, body: &Function) -> Result<Thread> {
    match idle.pop() {
        Some(thread) if thread.reset(body.clone()).is_ok() => Ok(thread),
        _ => lua.create_thread(body.clone()),
    }
}

/// What [`prepare_timer_task`] found.
enum TimerTask {
    /// The timer has no callback (nothing is left on the coroutine).
    Missing,
    /// The callback is the coroutine's body; it takes no arguments.
    Ready,
    /// The callback is the coroutine's body; its arguments are in `arguments[id]`.
    ReadyWithArguments,
}

/// Empties `thread` and puts the callback of timer `id` on it as its body, straight from the
/// prelude's `callbacks` table (`keys`: registry references of `callbacks` and `arguments`),
/// clearing the entry on the timer's last firing. This is a timer's hot path: through mlua's
/// table API each lookup costs several times what it does here.
///
/// # Safety
/// `thread` must be a coroutine of this state that is not running (new or finished).
unsafe fn prepare_timer_task(
    thread: *mut ffi::lua_State,
    (callbacks, arguments): (std::ffi::c_int, std::ffi::c_int),
    id: u64,
    finished: bool,
) -> TimerTask {
    let key = id as ffi::lua_Integer;
    // SAFETY: raw gets and raw sets of nil on plain tables neither allocate nor raise; at most
    // four slots are used (a new coroutine has LUA_MINSTACK).
    unsafe {
        ffi::lua_settop(thread, 0);
        ffi::lua_rawgeti(
            thread,
            ffi::LUA_REGISTRYINDEX,
            callbacks as ffi::lua_Integer,
        );
        if ffi::lua_rawgeti(thread, 1, key) != ffi::LUA_TFUNCTION {
            ffi::lua_settop(thread, 0);
            return TimerTask::Missing;
        }
        if finished {
            ffi::lua_pushnil(thread);
            ffi::lua_rawseti(thread, 1, key);
        }
        ffi::lua_rawgeti(
            thread,
            ffi::LUA_REGISTRYINDEX,
            arguments as ffi::lua_Integer,
        );
        let with_arguments = ffi::lua_rawgeti(thread, 3, key) == ffi::LUA_TTABLE;
        // Leave only the callback: [callbacks, fn, arguments, packed] -> [fn].
        ffi::lua_settop(thread, 2);
        ffi::lua_rotate(thread, 1, -1);
        ffi::lua_settop(thread, 1);
        if with_arguments {
            TimerTask::ReadyWithArguments
        } else {
            TimerTask::Ready
        }
    }
}

/// Resumes `thread`, whose body is a user callback, with `args`. The coroutine goes back to the
/// pool when it finished and no handle to it was handed out (`coroutine.running()` was not
/// called while it ran).
fn run_prepared_callback(
    lua: &Lua,
    idle: &mut Vec<Thread>,
    thread: Thread,
    args: MultiValue,
) -> (Thread, Outcome) {
    install_hook(lua, &thread);
    let escapes = coroutines::escapes();
    let outcome = match guarded_resume::<()>(&thread, args) {
        Ok(()) if thread.status() != ThreadStatus::Finished => Outcome::Suspended,
        Ok(()) => {
            if escapes == coroutines::escapes() && idle.len() < IDLE_LIMIT {
                idle.push(thread.clone());
            }
            Outcome::Finished(MultiValue::new())
        }
        Err(error) => Outcome::Failed(describe_error(&error)),
    };
    (thread, outcome)
}

/// Resumes `thread` (whose lua_State is `state`), holding a user callback that takes no
/// arguments, straight through `lua_resume`: a timer's hot path, without the values mlua's
/// `Thread::resume` builds and checks around the call. An error is described as mlua does
/// (the message, then the coroutine's traceback; an mlua error value as it is).
///
/// # Safety
/// `state` must be `thread`'s lua_State, not running, with only its body and `nargs` arguments
/// on the stack.
unsafe fn run_bare_callback(
    lua: &Lua,
    idle: &mut Vec<Thread>,
    thread: Thread,
    state: *mut ffi::lua_State,
    nargs: std::ffi::c_int,
) -> (Thread, Outcome) {
    install_hook(lua, &thread);
    let escapes = coroutines::escapes();
    let resumed = {
        let _running = RunningGuard::enter(state as *const std::ffi::c_void);
        std::panic::catch_unwind(|| {
            let mut results: std::ffi::c_int = 0;
            // SAFETY: per this function's contract; `from` may be NULL (no resuming coroutine:
            // the runtime is at the top of its loop).
            let status =
                unsafe { ffi::lua_resume(state, std::ptr::null_mut(), nargs, &mut results) };
            (status, results)
        })
    };
    let outcome = match resumed {
        Ok((ffi::LUA_OK, results)) => {
            // SAFETY: the finished coroutine holds its `results` on the stack.
            unsafe { ffi::lua_pop(state, results) };
            if escapes == coroutines::escapes() && idle.len() < IDLE_LIMIT {
                idle.push(thread.clone());
            }
            Outcome::Finished(MultiValue::new())
        }
        Ok((ffi::LUA_YIELD, results)) => {
            // SAFETY: the yielded values are on the stack; the next resume pushes its own.
            unsafe { ffi::lua_pop(state, results) };
            Outcome::Suspended
        }
        // SAFETY: the error object is on top of the dead coroutine's stack. (A panic that
        // crossed a callback is carried by it: caught here too.)
        Ok((_, _)) => Outcome::Failed(
            std::panic::catch_unwind(AssertUnwindSafe(|| unsafe { bare_error(lua, state) }))
                .unwrap_or_else(|panic| {
                    format!(
                        "internal error in plua (a bug, please report it): {}",
                        panic_text(panic.as_ref())
                    )
                }),
        ),
        Err(panic) => Outcome::Failed(format!(
            "internal error in plua (a bug, please report it): {}",
            panic_text(panic.as_ref())
        )),
    };
    (thread, outcome)
}

/// The text of a failed coroutine's error, as mlua's `Thread::resume` gives it: an mlua error
/// value as it is, anything else as its `tostring` followed by the coroutine's traceback.
///
/// # Safety
/// `state` must be a coroutine of `lua` that died with its error object on top of its stack.
unsafe fn bare_error(lua: &Lua, state: *mut ffi::lua_State) -> String {
    // SAFETY: exec_raw runs the closure protected on a state of `lua` (a failing __tostring
    // becomes its error); luaL_traceback only reads the dead coroutine's call information.
    let got = unsafe {
        lua.exec_raw::<Value>((), |main| {
            ffi::lua_xmove(state, main, 1);
            if ffi::lua_type(main, -1) != ffi::LUA_TUSERDATA
                && ffi::lua_checkstack(main, ffi::LUA_MINSTACK) != 0
            {
                let text = ffi::luaL_tolstring(main, -1, std::ptr::null_mut());
                ffi::luaL_traceback(main, state, text, 0);
                ffi::lua_replace(main, -3);
                ffi::lua_pop(main, 1);
            }
        })
    };
    match got {
        Ok(Value::String(text)) => text.to_string_lossy(),
        Ok(Value::Error(error)) => describe_error(&error),
        Ok(other) => other
            .to_string()
            .unwrap_or_else(|error| describe_error(&error)),
        Err(error) => describe_error(&error),
    }
}

/// The message of a caught panic.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Resumes `thread` once and classifies the result.
fn resume(thread: &Thread, args: impl IntoLuaMulti) -> Outcome {
    match guarded_resume::<MultiValue>(thread, args) {
        Ok(values) if thread.status() == ThreadStatus::Finished => Outcome::Finished(values),
        Ok(_) => Outcome::Suspended,
        Err(error) => Outcome::Failed(describe_error(&error)),
    }
}

/// Resumes `thread`. A Rust panic inside it is a plua bug; as a last resort it is caught here,
/// at the task boundary, and becomes this task's error, so one faulty callback cannot take the
/// process down.
fn guarded_resume<R: FromLuaMulti>(thread: &Thread, args: impl IntoLuaMulti) -> Result<R> {
    let _running = RunningGuard::enter(thread.to_pointer());
    match std::panic::catch_unwind(AssertUnwindSafe(|| thread.resume::<R>(args))) {
        Ok(result) => result,
        Err(panic) => Err(mlua::Error::runtime(format!(
            "internal error in plua (a bug, please report it): {}",
            panic_text(panic.as_ref())
        ))),
    }
}

/// The message and traceback of a Lua error, without mlua's wrapping.
pub fn describe_error(error: &mlua::Error) -> String {
    match error {
        mlua::Error::CallbackError { traceback, cause } => {
            let cause = describe_error(cause);
            if cause.contains("stack traceback:") {
                cause
            } else {
                format!("{cause}\n{traceback}")
            }
        }
        mlua::Error::WithContext { context, cause } => {
            format!("{context}: {}", describe_error(cause))
        }
        mlua::Error::RuntimeError(message)
        | mlua::Error::MemoryError(message)
        | mlua::Error::SyntaxError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rust_panic_in_a_task_becomes_its_error_and_the_state_lives_on() {
        let lua = Lua::new();
        let faulty = lua
            .create_function(|_, ()| -> Result<()> { panic!("deliberate test panic") })
            .expect("function");
        let thread = lua.create_thread(faulty).expect("thread");
        match resume(&thread, ()) {
            Outcome::Failed(message) => {
                assert!(message.contains("internal error in plua"), "{message}");
                assert!(message.contains("deliberate test panic"), "{message}");
            }
            _ => panic!("the panic was not reported as the task's error"),
        }
        let sum: i64 = lua.load("return 1 + 2").eval().expect("state still usable");
        assert_eq!(sum, 3);
    }
}
