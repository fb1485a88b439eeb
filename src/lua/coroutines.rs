//! `coroutine.resume`, `coroutine.wrap` and `coroutine.running` as scripts see them: C
//! functions (as in stock Lua: `debug.getinfo(f).what == "C"`, `string.dump` refuses them,
//! argument errors name `coroutine.resume`) that let a runtime wait inside a script's own
//! coroutine suspend the whole task.
//!
//! The prelude (`lua_stdlib/plua/prelude.lua`) owns the shared state and passes it in:
//! `parent[co]` is the coroutine resuming `co` while that resume is in progress, and
//! `flags.runtime_yielded` is set by a runtime wait right before it yields. A resume that finds
//! the flag set was not a yield of the script: it yields its own coroutine the same way (up to
//! the task coroutine, which yields to the runtime), and when resumed passes the values down to
//! the coroutine it drives (a continuation, `lua_yieldk`). Everything else behaves as
//! `lcorolib.c`: the results, the error messages, and `wrap` closing a failed coroutine and
//! prefixing the caller's position to a string error. `running` also marks the coroutine in
//! `escaped` so the task pool never recycles a coroutine whose handle user code holds.

use std::ffi::c_int;

use mlua::ffi::{self, lua_KContext, lua_State};
use mlua::{Function, Lua, Result};

/// Upvalue slots of the closures made here.
const PARENT: c_int = ffi::lua_upvalueindex(1);
const FLAGS: c_int = ffi::lua_upvalueindex(2);
/// `held[resumer] = co` while a resume waits in the runtime (weak keys): keeps `co` alive.
const HELD: c_int = ffi::lua_upvalueindex(3);
/// The functions `wrap` returns: the coroutine they drive.
const WRAPPED: c_int = ffi::lua_upvalueindex(4);
/// `running`'s only upvalue: the `escaped` table.
const ESCAPED: c_int = ffi::lua_upvalueindex(1);

/// Continuation contexts: which function is being continued.
const RESUME: lua_KContext = 0;
const WRAP: lua_KContext = 1;

/// `core.coroutine_functions(parent, flags, held, escaped)` → `resume, wrap, running`.
pub fn factory(lua: &Lua) -> Result<Function> {
    // SAFETY: `make_functions` follows the lua_CFunction protocol.
    unsafe { lua.create_c_function(make_functions) }
}

unsafe extern "C-unwind" fn make_functions(state: *mut lua_State) -> c_int {
    // SAFETY: called by Lua; indices 1..=3 are checked tables.
    unsafe {
        for index in 1..=4 {
            ffi::luaL_checktype(state, index, ffi::LUA_TTABLE);
        }
        ffi::lua_settop(state, 4);
        for function in [resume as ffi::lua_CFunction, wrap] {
            for upvalue in 1..=3 {
                ffi::lua_pushvalue(state, upvalue);
            }
            ffi::lua_pushcclosure(state, function, 3);
        }
        ffi::lua_pushvalue(state, 4);
        ffi::lua_pushcclosure(state, running, 1);
    }
    3
}

thread_local! {
    /// How many times `coroutine.running()` handed out a coroutine handle (see [`escapes`]).
    static ESCAPES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A count that changes whenever user code is handed a coroutine handle: a task whose resume
/// left it unchanged cannot have let its own handle escape, so its coroutine may be recycled.
pub fn escapes() -> u64 {
    ESCAPES.with(|count| count.get())
}

/// `coroutine.running()`: as stock, and the coroutine is marked as escaped.
unsafe extern "C-unwind" fn running(state: *mut lua_State) -> c_int {
    ESCAPES.with(|count| count.set(count.get().wrapping_add(1)));
    // SAFETY: called by Lua; the upvalue is the `escaped` table.
    unsafe {
        let is_main = ffi::lua_pushthread(state);
        ffi::lua_pushvalue(state, -1);
        ffi::lua_pushboolean(state, 1);
        ffi::lua_rawset(state, ESCAPED);
        ffi::lua_pushboolean(state, is_main);
    }
    2
}

/// `coroutine.resume(co, ...)`.
unsafe extern "C-unwind" fn resume(state: *mut lua_State) -> c_int {
    // SAFETY: called by Lua with `co` checked to be a thread.
    unsafe {
        ffi::luaL_checktype(state, 1, ffi::LUA_TTHREAD);
        let co = ffi::lua_tothread(state, 1);
        let entered = enter(state, co);
        drive(state, co, ffi::lua_gettop(state) - 1, RESUME, entered)
    }
}

/// `coroutine.wrap(fn)`: a closure over a new coroutine running `fn`.
unsafe extern "C-unwind" fn wrap(state: *mut lua_State) -> c_int {
    // SAFETY: called by Lua; the new closure gets this closure's upvalues and the thread.
    unsafe {
        ffi::luaL_checktype(state, 1, ffi::LUA_TFUNCTION);
        let co = ffi::lua_newthread(state);
        ffi::lua_pushvalue(state, 1);
        ffi::lua_xmove(state, co, 1);
        ffi::lua_pushvalue(state, PARENT);
        ffi::lua_pushvalue(state, FLAGS);
        ffi::lua_pushvalue(state, HELD);
        ffi::lua_rotate(state, -4, 3);
        ffi::lua_pushcclosure(state, call_wrapped, 4);
    }
    1
}

/// The function `coroutine.wrap` returns.
unsafe extern "C-unwind" fn call_wrapped(state: *mut lua_State) -> c_int {
    // SAFETY: called by Lua; upvalue 4 is the coroutine.
    unsafe {
        let co = ffi::lua_tothread(state, WRAPPED);
        let entered = enter(state, co);
        drive(state, co, ffi::lua_gettop(state), WRAP, entered)
    }
}

/// Records `parent[co] = running` when `co` can be resumed, and says whether it did (a
/// coroutine already running or normal keeps its real parent; the resume fails as in stock Lua).
unsafe fn enter(state: *mut lua_State, co: *mut lua_State) -> bool {
    // SAFETY: `state` and `co` are live threads of one Lua state.
    unsafe {
        if !is_suspended(state, co) {
            return false;
        }
        push_thread(state, co);
        ffi::lua_pushthread(state);
        ffi::lua_rawset(state, PARENT);
        true
    }
}

/// Whether `co` is suspended (yielded, or not started), as `coroutine.status` judges it.
unsafe fn is_suspended(state: *mut lua_State, co: *mut lua_State) -> bool {
    // SAFETY: `co` is a live thread; lua_getstack only reads its call info.
    unsafe {
        if co == state {
            return false;
        }
        match ffi::lua_status(co) {
            ffi::LUA_YIELD => true,
            ffi::LUA_OK => {
                let mut ar: ffi::lua_Debug = std::mem::zeroed();
                ffi::lua_getstack(co, 0, &mut ar) == 0 && ffi::lua_gettop(co) > 0
            }
            _ => false,
        }
    }
}

/// Pushes thread `co` onto `state`'s stack.
unsafe fn push_thread(state: *mut lua_State, co: *mut lua_State) {
    // SAFETY: `co` is a live, non-running thread of the same state as `state`.
    unsafe {
        ffi::luaL_checkstack(co, 1, c"coroutine stack overflow".as_ptr());
        ffi::lua_pushthread(co);
        ffi::lua_xmove(co, state, 1);
    }
}

/// Clears `parent[co]` once a resume of `co` is over.
unsafe fn leave(state: *mut lua_State, co: *mut lua_State) {
    // SAFETY: `state` and `co` are live threads of one Lua state.
    unsafe {
        push_thread(state, co);
        ffi::lua_pushnil(state);
        ffi::lua_rawset(state, PARENT);
    }
}

/// Takes `flags.runtime_yielded`: whether the resume that just returned was a runtime wait.
unsafe fn take_runtime_flag(state: *mut lua_State) -> bool {
    // SAFETY: the upvalue is the flags table.
    unsafe {
        ffi::lua_getfield(state, FLAGS, c"runtime_yielded".as_ptr());
        let set = ffi::lua_toboolean(state, -1) != 0;
        ffi::lua_pop(state, 1);
        if set {
            ffi::lua_pushboolean(state, 0);
            ffi::lua_setfield(state, FLAGS, c"runtime_yielded".as_ptr());
        }
        set
    }
}

/// Passes a runtime wait up: marks it for the resume above (if this coroutine is itself being
/// resumed by a wrapped resume) and yields this coroutine with no values.
unsafe fn pass_wait_up(state: *mut lua_State, co: *mut lua_State, kind: lua_KContext) -> c_int {
    // SAFETY: the chain up to the task can yield: the waiting call checked it (`can_wait`).
    unsafe {
        ffi::lua_pushthread(state);
        ffi::lua_rawget(state, PARENT);
        let has_parent = ffi::lua_isnil(state, -1) == 0;
        ffi::lua_pop(state, 1);
        if has_parent {
            ffi::lua_pushboolean(state, 1);
            ffi::lua_setfield(state, FLAGS, c"runtime_yielded".as_ptr());
        }
        // Nothing of this frame's stack survives the yield (mlua empties a task's stack when it
        // yields): the driven coroutine travels in the context (threads are at least 8-byte
        // aligned, so the low bit is free for the kind) and `held` keeps it alive meanwhile.
        ffi::lua_pushthread(state);
        push_thread(state, co);
        ffi::lua_rawset(state, HELD);
        ffi::lua_settop(state, 0);
        ffi::lua_yieldk(state, 0, (co as lua_KContext) | kind, Some(continued))
    }
}

/// Back from a passed-up wait: the values this coroutine was resumed with (all of the frame
/// now) go down to the coroutine being driven.
unsafe extern "C-unwind" fn continued(
    state: *mut lua_State,
    _status: c_int,
    context: lua_KContext,
) -> c_int {
    let kind = context & 1;
    let co = (context & !1) as *mut lua_State;
    // SAFETY: `co` is the thread `pass_wait_up` stored in the context, kept alive by `held`.
    unsafe {
        ffi::lua_pushthread(state);
        ffi::lua_pushnil(state);
        ffi::lua_rawset(state, HELD);
        drive(state, co, ffi::lua_gettop(state), kind, true)
    }
}

/// Resumes `co` with the top `narg` values (`lcorolib.c`'s `auxresume`), then finishes as
/// `resume` or `wrap` does, or passes a runtime wait up. `entered`: `parent[co]` was set for
/// this resume (and is cleared when it is over).
unsafe fn drive(
    state: *mut lua_State,
    co: *mut lua_State,
    narg: c_int,
    kind: lua_KContext,
    entered: bool,
) -> c_int {
    // SAFETY: `state` is the running thread and `co` a thread of the same state.
    unsafe {
        // Room for the few values pushed here besides the arguments and results.
        ffi::luaL_checkstack(state, 4, c"too many arguments to resume".as_ptr());
        if ffi::lua_checkstack(co, narg) == 0 {
            if entered {
                leave(state, co);
            }
            ffi::lua_pushstring(state, c"too many arguments to resume".as_ptr());
            return failed(state, co, kind);
        }
        ffi::lua_xmove(state, co, narg);
        let mut nres: c_int = 0;
        let status = ffi::lua_resume(co, state, narg, &mut nres);
        if status == ffi::LUA_OK || status == ffi::LUA_YIELD {
            if status == ffi::LUA_YIELD && take_runtime_flag(state) {
                ffi::lua_pop(co, nres);
                return pass_wait_up(state, co, kind);
            }
            if entered {
                leave(state, co);
            }
            if ffi::lua_checkstack(state, nres + 1) == 0 {
                ffi::lua_pop(co, nres);
                ffi::lua_pushstring(state, c"too many results to resume".as_ptr());
                return failed(state, co, kind);
            }
            ffi::lua_xmove(co, state, nres);
            if kind == RESUME {
                ffi::lua_pushboolean(state, 1);
                ffi::lua_rotate(state, -(nres + 1), 1);
                return nres + 1;
            }
            return nres;
        }
        if entered {
            leave(state, co);
        }
        ffi::lua_xmove(co, state, 1);
        failed(state, co, kind)
    }
}

/// The error at the top of the stack: `false, message` for `resume`; raised for `wrap`, after
/// closing a coroutine that failed, with the caller's position before a string message.
unsafe fn failed(state: *mut lua_State, co: *mut lua_State, kind: lua_KContext) -> c_int {
    // SAFETY: the error object is on top of `state`'s stack.
    unsafe {
        if kind == RESUME {
            ffi::lua_pushboolean(state, 0);
            ffi::lua_rotate(state, -2, 1);
            return 2;
        }
        let mut status = ffi::lua_status(co);
        if status != ffi::LUA_OK && status != ffi::LUA_YIELD {
            status = ffi::lua_closethread(co, state);
            ffi::lua_xmove(co, state, 1);
        }
        if status != ffi::LUA_ERRMEM && ffi::lua_type(state, -1) == ffi::LUA_TSTRING {
            ffi::luaL_where(state, 1);
            ffi::lua_rotate(state, -2, 1);
            ffi::lua_concat(state, 2);
        }
        ffi::lua_error(state)
    }
}
