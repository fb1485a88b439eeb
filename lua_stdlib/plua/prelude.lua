-- plua.prelude: the Lua half of the timer and coroutine model, loaded once at start-up.
--
-- Rust keeps deadlines in its timer wheel; this file keeps what belongs to Lua: the callbacks
-- and their extra arguments (in tables keyed by timer id, never as Rust-held handles), the
-- coroutines waiting on a runtime operation, and the argument checks that raise errors at the
-- caller's line. It receives the Rust primitives and `_PY`, defines the timer globals, and
-- returns the hooks the runtime calls: `run_timer` (body of a timer task) and `waiting`.

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
local escaped = setmetatable({}, { __mode = "k" })
coroutine.running = function()
  local co, is_main = running()
  escaped[co] = true
  return co, is_main
end

-- Raises `message` at the script's line: the first caller outside the embedded library
-- (plua.checks, loaded only when an error is raised).
local function raise(message)
  return require("plua.checks").raise(message)
end

local function caller_position(level)
  local info = debug and debug.getinfo(level + 1, "Sl")
  if info and info.currentline and info.currentline > 0 then
    return (" at %s:%d"):format(info.short_src, info.currentline)
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
    core.warn(("%s: negative delay %s ms treated as 0%s"):format(name, tostring(ms), caller_position(3)))
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

-- setTimeout and setInterval are written out rather than sharing a helper: forwarding `...`
-- through one more call costs more than the rest of the fast path.
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

-- Body of the task coroutine the runtime starts for a fired timer. Returns `true` when the
-- coroutine may be recycled (no handle to it escaped); returns nothing otherwise, so a user who
-- resumed a yielded callback to its end sees no extra value.
local function run_timer(id, finished)
  local fn, args = callbacks[id], arguments[id]
  if finished then
    callbacks[id] = nil
    arguments[id] = nil
  end
  if args then
    fn(unpack(args, 1, args.n))
  else
    fn()
  end
  if not escaped[running()] then
    return true
  end
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

-- Suspends the running coroutine until the runtime resumes it with `id` (and results).
-- A resume by anyone else (user code) does not end the wait.
local function wakeup(id, got, ...)
  if got == id then
    return ...
  end
  return wakeup(id, yield())
end

local function wait_for(id)
  waiting[id] = running()
  return wakeup(id, yield())
end

local function sleep(seconds)
  if type(seconds) ~= "number" then
    raise(("sleep: bad argument #1 (number expected, got %s)"):format(type(seconds)))
  end
  local ms = seconds * 1000
  if ms < 0 or ms > MAX_DELAY or ms ~= ms then
    ms = checked_delay("sleep", ms, 1)
  end
  if not isyieldable() then
    -- Nowhere to yield to (a C boundary or the main Lua thread): block for the time instead.
    return core.block_sleep(ms)
  end
  return wait_for(core.wakeup_add(ms))
end

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

-- print as standard Lua's: `tostring` on each argument (the original, even if the global is
-- replaced), tab-separated; the line goes through the runtime's stdout with HC3 markup rendered.
local write_line, concat = core.write_line, table.concat
local function print(...)
  local n = select("#", ...)
  if n == 1 then
    return write_line(tostring((...)))
  end
  local parts = { ... }
  for i = 1, n do
    parts[i] = tostring(parts[i])
  end
  return write_line(concat(parts, "\t", 1, n))
end
_G.print = print

-- Waits for operation `op` to finish and returns its results: suspends the calling coroutine,
-- or, where yielding is impossible, blocks the thread (sockets still progress) up to
-- `timeout` seconds.
local function await(op, timeout)
  if isyieldable() then
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
  require("plua.http_server").install(core, PY, { listeners = listeners })
end)

local load_web_compat = once(function()
  load_http()
  require("plua.web_compat").install(PY)
end)

local load_http_client = once(function()
  load_sockets()
  require("plua.http_client").install(core, PY, { callbacks = callbacks, await = await })
end)

local load_websocket = once(function()
  load_sockets()
  require("plua.websocket").install(core, PY, { listeners = listeners })
end)

local web_compat_names = {
  start_web_server = true,
  stop_web_server = true,
  is_web_server_running = true,
  get_web_server_status = true,
  register_web_callback = true,
  get_web_server_message = true,
  start_web_message_processing = true,
}

local load_py_helper = core.load_py_helper

-- Everything that loads on first use, for `pairs(_PY)` (the REPL, scripts listing the API).
local function load_everything()
  core.load_all_py_helpers()
  load_web_compat()
  load_http_client()
  load_websocket()
end

setmetatable(PY, {
  __pairs = function(t)
    load_everything()
    return next, t, nil
  end,
  __index = function(_, key)
    if type(key) == "string" then
      if load_py_helper(key) then
        return rawget(PY, key)
      end
      local prefix = key:sub(1, 4)
      if prefix == "tcp_" or prefix == "udp_" then
        load_sockets()
        return rawget(PY, key)
      elseif key == "http_server_start" or key == "http_server_stop" then
        load_http()
        return rawget(PY, key)
      elseif web_compat_names[key] then
        load_web_compat()
        return rawget(PY, key)
      elseif key:sub(1, 10) == "websocket_" then
        load_websocket()
        return rawget(PY, key)
      elseif key == "http_request_async" or key == "http_request_sync" or key == "http_request_blocking_pool" then
        load_http_client()
        return rawget(PY, key)
      end
    end
  end,
})

return {
  print = print,
  callbacks = callbacks,
  run_completion = run_completion,
  run_event = run_event,
  run_timer = run_timer,
  waiting = waiting,
  wait_for = wait_for,
}
