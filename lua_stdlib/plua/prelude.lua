-- plua.prelude: the Lua half of the timer and coroutine model, loaded once at start-up.
--
-- Rust keeps deadlines in its timer wheel; this file keeps what belongs to Lua: the callbacks
-- and their extra arguments (in tables keyed by timer id, never as Rust-held handles), the
-- coroutines waiting on a runtime operation, and the argument checks that raise errors at the
-- caller's line. It receives the Rust primitives and `_PY`, defines the timer globals, and
-- returns the hooks the runtime calls: the `callbacks` and `arguments` tables a fired timer's task
-- is made from (src/lua/tasks.rs), the bodies of completion and event tasks, and `waiting`.

local core, PY = ...

local type, select, error, tostring = type, select, error, tostring
local unpack, pack = table.unpack, table.pack
local isyieldable, running, yield = coroutine.isyieldable, coroutine.running, coroutine.yield
local timeout_add, interval_add, timer_cancel = core.timeout_add, core.interval_add, core.timer_cancel
local MAX_DELAY = core.MAX_DELAY

local callbacks = {} -- timer id -> function
local arguments = {} -- timer id -> packed extra arguments (only when there are some)
local waiting = {} -- operation id -> coroutine suspended until the runtime resumes it

-- The runtime recycles finished task coroutines (much cheaper than creating new ones). A task
-- whose coroutine handle was handed out by `coroutine.running()` is never recycled, so a handle
-- kept by user code always stays the coroutine it was: "dead" once it finished.
-- (`coroutine.running`, a C function from src/lua/coroutines.rs, marks them in `escaped`.)
local escaped = setmetatable({}, { __mode = "k" })

-- Raises `message` at the script's line: the first caller outside the embedded library
-- (plua.checks, loaded only when an error is raised).
local function raise(message)
  return require("plua.checks").raise(message)
end

-- " at file:line" of the first Lua function on the stack outside the embedded library (C
-- functions, such as the C `setTimeout` in front of the Lua one, are passed over too).
local function caller_position()
  local getinfo = debug and debug.getinfo
  local level = 2
  while getinfo do
    local info = getinfo(level, "Sl")
    if info == nil then
      break
    end
    if info.what ~= "C" and not info.source:find("^@lua_stdlib/") then
      if info.currentline and info.currentline > 0 then
        return (" at %s:%d"):format(info.short_src, info.currentline)
      end
      break
    end
    level = level + 1
  end
  return ""
end

-- Slow path of the delay check: explains what is wrong, or warns and returns a usable delay.
local function checked_delay(name, ms, argument)
  if ms == nil then
    return 0
  end
  if type(ms) ~= "number" then
    raise(("%s: bad argument #%d (number expected, got %s)"):format(name, argument, type(ms)))
  end
  if ms ~= ms then
    raise(("%s: bad argument #%d (delay expected, got NaN)"):format(name, argument))
  end
  if ms > MAX_DELAY then
    raise(("%s: bad argument #%d (delay too large: up to 2^40 ms, about 34 years, expected, got %s ms)"):format(
      name, argument, tostring(ms)))
  end
  if ms < 0 then
    core.warn(("%s: negative delay %s ms treated as 0%s"):format(name, tostring(ms), caller_position()))
    return 0
  end
  return ms
end

local function bad_callback(name, fn)
  raise(("%s: bad argument #1 (function expected, got %s)"):format(name, type(fn)))
end

local function clear_timer(name, id)
  if id == nil then
    return false
  end
  if type(id) ~= "number" then
    raise(("%s: bad argument #1 (timer id expected, got %s)"):format(name, type(id)))
  end
  if timer_cancel(id) then
    callbacks[id] = nil
    arguments[id] = nil
    return true
  end
  return false
end

-- The Lua setTimeout and setInterval: the C versions (src/api/timers.rs) hand them every call
-- off the common path (a function and a plain delay), to check, explain and schedule.
local function setTimeout(fn, ms, ...)
  if type(fn) ~= "function" then
    bad_callback("setTimeout", fn)
  end
  if type(ms) ~= "number" or ms < 0 or ms > MAX_DELAY or ms ~= ms then
    ms = checked_delay("setTimeout", ms, 2)
  end
  local id = timeout_add(ms)
  callbacks[id] = fn
  if select("#", ...) > 0 then
    arguments[id] = pack(...)
  end
  return id
end

local function setInterval(fn, ms, ...)
  if type(fn) ~= "function" then
    bad_callback("setInterval", fn)
  end
  if type(ms) ~= "number" or ms < 0 or ms > MAX_DELAY or ms ~= ms then
    ms = checked_delay("setInterval", ms, 2)
  end
  local id = interval_add(ms)
  callbacks[id] = fn
  if select("#", ...) > 0 then
    arguments[id] = pack(...)
  end
  return id
end

local function clearTimeout(id)
  return clear_timer("clearTimeout", id)
end

local function clearInterval(id)
  return clear_timer("clearInterval", id)
end

-- Body of the task coroutine for a finished network operation: runs its callback, if any.
local function run_completion(op, ...)
  local fn = callbacks[op]
  if fn then
    callbacks[op] = nil
    fn(...)
  end
  if not escaped[running()] then
    return true
  end
end

-- Listeners of servers and sockets: listeners[owner][event] = fn.
local listeners = {}

-- Body of the task coroutine for an event of a server or socket.
local function run_event(owner, event, ...)
  local of_owner = listeners[owner]
  local fn = of_owner and of_owner[event]
  if fn then
    fn(...)
  end
  if not escaped[running()] then
    return true
  end
end

-- Waiting calls inside a script's own coroutines (`coroutine.wrap` generators, a resume loop
-- the script drives) suspend the whole task, not just the script's coroutine: a runtime wait
-- must not look like a yield to the script's resumer. As OpenResty and cqueues do, the
-- `coroutine.resume` and `coroutine.wrap` that scripts see are wrapped (C functions in
-- src/lua/coroutines.rs, so they look like stock Lua's): `parent[co]` is the coroutine
-- resuming `co` (only while that resume is in progress), and a runtime wait sets
-- `flags.runtime_yielded` right before it yields. A wrapped resume that sees the flag yields
-- its own coroutine the same way, up to the task coroutine, which yields to the runtime; the
-- runtime resumes the task with the result, and each wrapped resume passes it down again.
local parent = setmetatable({}, { __mode = "kv" })
local flags = { runtime_yielded = false }
local held = setmetatable({}, { __mode = "k" }) -- resumer -> coroutine, while it waits
coroutine.resume, coroutine.wrap, coroutine.running = core.coroutine_functions(parent, flags, held, escaped)

-- The task coroutine the runtime resumes for the running code (the top of the resume chain).
local function task_of(co)
  local up = parent[co]
  while up do
    co, up = up, parent[up]
  end
  return co
end

-- Can the whole chain up to the task yield? (Otherwise a waiting call blocks instead.)
local function can_wait()
  if not isyieldable() then
    return false
  end
  local up = parent[running()]
  while up do
    if not isyieldable(up) then
      return false
    end
    up = parent[up]
  end
  return true
end

-- Yields the running coroutine for the runtime (marking the yield for wrapped resumes above).
local function runtime_yield()
  if parent[running()] then
    flags.runtime_yielded = true
  end
  return yield()
end

-- Suspends the running coroutine until the runtime resumes it with `id` (and results).
-- A resume by anyone else (user code) does not end the wait.
local function wakeup(id, got, ...)
  if got == id then
    return ...
  end
  return wakeup(id, runtime_yield())
end

local function wait_for(id)
  waiting[id] = task_of(running())
  return wakeup(id, runtime_yield())
end

local function sleep(seconds)
  if type(seconds) ~= "number" then
    raise(("sleep: bad argument #1 (number expected, got %s)"):format(type(seconds)))
  end
  local ms = seconds * 1000
  if ms < 0 or ms > MAX_DELAY or ms ~= ms then
    ms = checked_delay("sleep", ms, 1)
  end
  if not can_wait() then
    -- Nowhere to yield to (a C boundary or the main Lua thread): block for the time instead.
    return core.block_sleep(ms)
  end
  return wait_for(core.wakeup_add(ms))
end

setTimeout, setInterval = core.timer_functions(callbacks, arguments, setTimeout, setInterval)
_G.setTimeout, _G.setInterval = setTimeout, setInterval
_G.clearTimeout, _G.clearInterval = clearTimeout, clearInterval
PY.setTimeout, PY.setInterval = setTimeout, setInterval
PY.clearTimeout, PY.clearInterval = clearTimeout, clearInterval
PY.sleep = sleep
PY.has_active_timers = core.has_timeouts
PY.has_active_intervals = core.has_intervals
PY.unref = function(id)
  return core.set_referenced(id, false)
end
PY.ref = function(id)
  return core.set_referenced(id, true)
end

-- print is standard Lua's, as a C function (src/api/output.rs): `luaL_tolstring` on each
-- argument, tab-separated; the line goes through the runtime's stdout with HC3 markup rendered.
local print = core.print
_G.print = print

-- The original's global `input(prompt)`: a line from stdin without its newline (nil at EOF).
_G.input = function(prompt)
  return PY.input_lua(prompt)
end

-- The original's `string.split(s, sep)`: the pieces of `s` between separator characters,
-- empty pieces dropped. Each character of `sep` (default: whitespace) is taken literally.
local find, sub = string.find, string.sub
string.split = function(s, sep)
  s = tostring(s)
  local class
  if sep == nil or sep == "" then
    class = "[^%s]+"
  else
    class = "[^" .. tostring(sep):gsub("[%%%]%^%-]", "%%%0") .. "]+"
  end
  local pieces, at = {}, 1
  while true do
    local first, last = find(s, class, at)
    if not first then
      return pieces
    end
    pieces[#pieces + 1] = sub(s, first, last)
    at = last + 1
  end
end

-- Waits for operation `op` to finish and returns its results: suspends the calling coroutine,
-- or, where yielding is impossible, blocks the thread (sockets still progress) up to
-- `timeout` seconds.
local function await(op, timeout)
  if can_wait() then
    return wait_for(op)
  end
  return core.block_on(op, timeout)
end

-- The socket families load on first use (`_PY.tcp_*`, `_PY.udp_*`, or `require("net")`), so
-- a script that never touches the network does not pay for them at start-up.

-- `install` wrapped so that it runs the first time the result is called, and never again.
local function once(install)
  local done = false
  return function()
    if not done then
      done = true
      install()
    end
  end
end

local load_sockets = once(function()
  core.load_net()
  require("plua.sockets").install(core, PY, {
    callbacks = callbacks,
    listeners = listeners,
    await = await,
  })
end)

local load_http = once(function()
  load_sockets()
  require("plua.http_server").install(core, PY, { listeners = listeners, await = await })
end)

local load_web_compat = once(function()
  load_http()
  require("plua.web_compat").install(PY)
end)

local load_http_client = once(function()
  load_sockets()
  require("plua.http_client").install(core, PY, { callbacks = callbacks, await = await, can_wait = can_wait,
    listeners = listeners })
end)

local load_websocket = once(function()
  load_sockets()
  require("plua.websocket").install(core, PY, { listeners = listeners })
end)

local load_compat = once(function()
  load_sockets()
  require("plua.compat").install(core, PY, { await = await })
end)

local load_config = once(function()
  require("plua.config").install(PY)
end)

local load_events = once(function()
  require("plua.events").install(PY)
end)

-- How each family that is not eager gets installed (Rust families through core).
local load_family = {
  sockets = load_sockets,
  http_server = load_http,
  web_compat = load_web_compat,
  http_client = load_http_client,
  websocket = load_websocket,
  compat = load_compat,
  config = load_config,
  events = load_events,
}
local load_rust_family = core.load_py_family

-- The catalogue (lua_stdlib/plua/catalogue.lua), read on the first lookup of a name `_PY`
-- does not hold yet.
local catalogue
local function get_catalogue()
  catalogue = catalogue or require("plua.catalogue")
  return catalogue
end

-- Installs family `name`; false if nothing installs it (an eager family).
local function install_family(name)
  local loader = load_family[name]
  if loader then
    loader()
    return true
  end
  return load_rust_family(name)
end

setmetatable(PY, {
  -- `pairs(_PY)` lists the whole API: every family is installed first.
  __pairs = function(t)
    for _, family in ipairs(get_catalogue().families) do
      if not family.eager then
        install_family(family.name)
      end
    end
    return next, t, nil
  end,
  __index = function(_, key)
    if type(key) == "string" then
      local family = get_catalogue().family_of[key]
      if family and install_family(family) then
        return rawget(PY, key)
      end
    end
  end,
})

return {
  print = print,
  callbacks = callbacks,
  arguments = arguments,
  run_completion = run_completion,
  run_event = run_event,
  listeners = listeners,
  waiting = waiting,
  wait_for = wait_for,
}
