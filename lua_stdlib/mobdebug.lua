-- mobdebug: plua's debugger client for IDEs that speak the MobDebug protocol (ZeroBrane Studio,
-- VS Code MobDebug adapters, `mobdebug.listen()`). Written for plua from the public protocol:
-- the client connects out to the IDE and answers its line commands (SETB, STEP, STACK, EXEC,
-- ...) with numbered replies (200 OK, 202 Paused file line, ...).
--
-- A line hook is set in every coroutine that runs user code: the task coroutines the runtime
-- creates or recycles (through `plua.taskhook`, src/lua/tasks.rs) and the coroutines scripts
-- create while the debugger is on. When it pauses, the hook blocks in the socket read, so the
-- whole runtime is paused until the IDE says RUN/STEP/OVER/OUT. While running, the hook looks
-- for commands the IDE sent (breakpoints, SUSPEND) every few hundred lines and whenever a task
-- starts. Frames and values: plua.debugger_frames, plua.debugger_values.

local socket = require("socket")
local taskhook = require("plua.taskhook")
local frames = require("plua.debugger_frames")
local values = require("plua.debugger_values")

local getinfo, sethook, running, co_status = debug.getinfo, debug.sethook, coroutine.running, coroutine.status
local type, tostring, tonumber, select, pcall, load, pairs = type, tostring, tonumber, select, pcall, load, pairs

-- How many line events pass between two looks for commands while the program runs.
local POLL_EVERY = 500
-- How long connecting to the IDE may take, in seconds.
local CONNECT_TIMEOUT = 5

local M = { _NAME = "mobdebug", _VERSION = "plua-1" }

local conn -- the connection to the IDE; nil while the debugger is off
local cwd -- the process's working directory (relative chunk names are relative to it)
local basedir -- the IDE's project directory, ending with "/"
local breakpoints = {} -- line -> { absolute path -> true }
local watches, watch_count = {}, 0 -- index -> compiled watch expression
local next_watch = 1
local mode -- nil: run; "into", "over", "out": stepping; "pause": stop at the next line
local step_co, step_depth -- where OVER and OUT were given
local paused_depth -- stack depth of the current pause
local first_pause -- the pause right after start: the IDE speaks first, no 202 is sent
local lines_since_poll = 0
local names = {} -- chunk name -> absolute path, or false for code that is not the user's
local original_print, output_mode

local hook -- the line hook (defined below)

local function warn(message)
  io.stderr:write("plua: warning: debugger: ", message, "\n")
end

-- Paths ----------------------------------------------------------------------------------------

-- `path` with `\` as `/`, `.` and `..` resolved, made absolute against `dir`.
local function absolute(path, dir)
  path = path:gsub("\\", "/")
  if path:sub(1, 1) ~= "/" then
    path = dir .. "/" .. path
  end
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      parts[#parts] = nil
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return "/" .. table.concat(parts, "/")
end

-- The absolute path of a chunk's source, or false for code that is not a user file.
local function file_of(source)
  local name = names[source]
  if name == nil then
    name = false
    if source:sub(1, 1) == "@" and source:sub(1, 12) ~= "@lua_stdlib/" then
      name = absolute(source:sub(2), cwd)
    end
    names[source] = name
  end
  return name
end

-- The name the IDE knows `path` by: relative to BASEDIR when under it, absolute otherwise.
local function ide_name(path)
  if path and basedir and path:sub(1, #basedir) == basedir then
    return path:sub(#basedir + 1)
  end
  return path
end

local function ide_file_of(source)
  return ide_name(file_of(source) or nil)
end

-- Talking to the IDE -----------------------------------------------------------------------------

local stop_debugging

local function send(text)
  if conn then
    local ok, err = conn:send(text)
    if not ok then
      stop_debugging("the connection to the IDE failed: " .. tostring(err))
    end
  end
end

local function send_body(status, body)
  send(("%s %d\n%s"):format(status, #body, body))
end

local function print_to_ide(...)
  local parts = {}
  for i = 1, select("#", ...) do
    parts[i] = values.describe((select(i, ...)))
  end
  local text = table.concat(parts, "\t") .. "\n"
  send_body("204 Output stdout", text)
  if output_mode == "c" then
    original_print(...)
  end
end

local function set_output(new_mode)
  if new_mode == "d" then
    if original_print and _G.print == print_to_ide then
      _G.print = original_print
    end
    output_mode = nil
  else
    if _G.print ~= print_to_ide then
      original_print = _G.print
      _G.print = print_to_ide
    end
    output_mode = new_mode
  end
end

-- Splits `chunk -- {options}` (options as a Lua table constructor).
local function options_of(text)
  local body, options = text:match("^(.-)%s*%-%-%s*(%b{})%s*$")
  if not body then
    return text, {}
  end
  local parse = load("return " .. options, "=options", "t", {})
  local ok, parsed = pcall(parse or error)
  return body, (ok and type(parsed) == "table") and parsed or {}
end

-- Commands -----------------------------------------------------------------------------------

local commands = {}

-- While paused, STACK and EXEC run against the paused coroutine's frames.
local paused = false

local function resume_with(new_mode)
  return function()
    mode = new_mode
    if new_mode == "over" or new_mode == "out" then
      step_co, step_depth = running(), paused_depth
    end
    send("200 OK\n")
    return true
  end
end

commands.RUN = resume_with(nil)
commands.STEP = resume_with("into")
commands.OVER = resume_with("over")
commands.OUT = resume_with("out")

function commands.SETB(args)
  local file, line = args:match("^(.-)%s+(%d+)$")
  if not file or file == "" then
    return send("400 Bad Request\n")
  end
  line = tonumber(line)
  breakpoints[line] = breakpoints[line] or {}
  breakpoints[line][absolute(file, basedir)] = true
  send("200 OK\n")
end

function commands.DELB(args)
  local file, line = args:match("^(.-)%s+(%d+)$")
  if not file or file == "" then
    return send("400 Bad Request\n")
  end
  if file == "*" and line == "0" then
    breakpoints = {}
  else
    local at = breakpoints[tonumber(line)]
    if at then
      at[absolute(file, basedir)] = nil
      if next(at) == nil then
        breakpoints[tonumber(line)] = nil
      end
    end
  end
  send("200 OK\n")
end

function commands.DELALLB()
  breakpoints = {}
  send("200 OK\n")
end

-- Watch expressions run in the frame being checked, through this proxy.
local watch_frame_env = _G
local watch_env = setmetatable({}, {
  __index = function(_, name)
    return watch_frame_env[name]
  end,
  __newindex = function(_, name, value)
    watch_frame_env[name] = value
  end,
})

function commands.SETW(args)
  local fn = args ~= "" and load("return (" .. args .. ")", "=watch", "t", watch_env)
  if not fn then
    return send("400 Bad Request\n")
  end
  local index = next_watch
  next_watch = next_watch + 1
  watches[index] = fn
  watch_count = watch_count + 1
  send(("200 OK %d\n"):format(index))
end

function commands.DELW(args)
  local index = tonumber(args)
  if index and watches[index] then
    watches[index] = nil
    watch_count = watch_count - 1
  end
  send("200 OK\n")
end

function commands.DELALLW()
  watches, watch_count = {}, 0
  send("200 OK\n")
end

function commands.BASEDIR(args)
  if args == "" then
    return send("400 Bad Request\n")
  end
  basedir = absolute(args, cwd)
  if basedir ~= "/" then
    basedir = basedir .. "/"
  end
  send("200 OK\n")
end

function commands.SUSPEND()
  -- No reply: the program pauses at its next line and the 202 Paused says so.
  mode = "pause"
end

function commands.OUTPUT(args)
  local stream, new_mode = args:match("^(%S+)%s+([dcr])$")
  if stream ~= "stdout" then
    return send("400 Bad Request\n")
  end
  set_output(new_mode)
  send("200 OK\n")
end

function commands.STACK(args)
  if not paused then
    return send_body("401 Error in Execution", "not paused")
  end
  local ok, dump, err = pcall(frames.stack, hook, ide_file_of)
  if not ok or not dump then
    return send_body("401 Error in Execution", tostring(err or dump))
  end
  send("200 OK " .. dump .. "\n")
end

-- The results of an EXEC chunk as MobDebug sends them: a chunk returning a table with each
-- value written as Lua source.
local function exec_results(...)
  local parts = {}
  for i = 1, select("#", ...) do
    parts[i] = values.quote(values.line((select(i, ...))))
  end
  return values.chunk("{" .. table.concat(parts, ", ") .. "}")
end

function commands.EXEC(args)
  if not paused then
    return send_body("401 Error in Execution", "not paused")
  end
  local chunk, options = options_of(args)
  -- MobDebug counts `stack` from the debugger's own frames: 3 is the paused function.
  local index = math.max(1, (tonumber(options.stack) or 3) - 2)
  local frame = frames.capture(hook, index)
  if not frame then
    return send_body("401 Error in Execution", "no such stack frame")
  end
  local fn, err = load(chunk, "=(exec)", "t", frame.env)
  if not fn then
    return send_body("401 Error in Expression", err)
  end
  local results = table.pack(pcall(fn))
  frames.apply(frame)
  if not results[1] then
    return send_body("401 Error in Execution", values.describe(results[2]))
  end
  send_body("200 OK", exec_results(table.unpack(results, 2, results.n)))
end

function commands.LOAD(args)
  local size, name = args:match("^(%d+)%s+(.+)$")
  local chunk = size and conn:receive(tonumber(size))
  if not chunk then
    return send("400 Bad Request\n")
  end
  local fn, err = load(chunk, "@" .. name)
  if not fn then
    return send_body("401 Error in Expression", err)
  end
  -- The loaded chunk runs as a new task once the program goes on.
  setTimeout(fn, 0)
  send("200 OK 0\n")
end

function commands.EXIT()
  send("200 OK\n")
  os.exit(0)
end

function commands.DONE()
  send("200 OK\n")
  stop_debugging()
  return true
end

-- Reads and runs commands until one resumes the program (or the IDE goes away).
local function command_loop()
  paused = true
  while conn do
    local line, err = conn:receive("*l")
    if not line then
      if err == "interrupted" then
        stop_debugging() -- a signal: the process is ending
      elseif err == "closed" then
        stop_debugging("the IDE closed the connection; running on without it")
      else
        stop_debugging("lost the connection to the IDE (" .. tostring(err) .. "); running on without it")
      end
      break
    end
    local name, args = line:match("^%s*(%S+)%s*(.-)%s*$")
    local command = name and commands[name:upper()]
    if not command then
      send("400 Bad Request\n")
    elseif command(args) then
      break
    end
  end
  paused = false
end

-- Handles commands the IDE sent while the program runs, without waiting for any.
local function poll()
  lines_since_poll = 0
  if first_pause then
    return -- the IDE's first commands are read at the first pause
  end
  while conn do
    conn:settimeout(0)
    local first, err = conn:receive(1)
    conn:settimeout(nil)
    if not first then
      if err == "closed" then
        stop_debugging("the IDE closed the connection; running on without it")
      end
      return
    end
    local rest = first == "\n" and "" or conn:receive("*l")
    if rest then
      local line = first == "\n" and "" or first .. rest
      local name, args = line:match("^%s*(%S+)%s*(.-)%s*$")
      local command = name and commands[name:upper()]
      if command == commands.STACK or command == commands.EXEC or not command then
        if name then
          send("400 Bad Request\n")
        end
      else
        command(args)
      end
    end
  end
end

-- The hook -----------------------------------------------------------------------------------

-- Stack depth of the function that triggered the hook (the hook itself must call this).
local function depth()
  local level = 3
  while getinfo(level, "l") do
    level = level + 1
  end
  return level
end

local function pause(file, line, watch)
  paused_depth = depth() - 1
  mode = nil
  if first_pause then
    first_pause = false
  elseif watch then
    send(("203 Paused %s %d %d\n"):format(ide_name(file), line, watch))
  else
    send(("202 Paused %s %d\n"):format(ide_name(file), line))
  end
  command_loop()
end

-- The first watch whose expression is true in the paused frame, if any.
local function fired_watch()
  local frame = frames.capture(hook, 1)
  if not frame then
    return nil
  end
  watch_frame_env = frame.env
  local fired
  for index, fn in pairs(watches) do
    local ok, result = pcall(fn)
    if ok and result and (not fired or index < fired) then
      fired = index
    end
  end
  watch_frame_env = _G
  return fired
end

local function should_stop()
  if mode == "into" or mode == "pause" then
    return true
  end
  local co = running()
  if co == step_co then
    local here = depth() - 1
    return (mode == "over" and here <= step_depth) or (mode == "out" and here < step_depth)
  end
  return step_co == nil or co_status(step_co) == "dead"
end

hook = function(_, line)
  if not conn then
    sethook()
    return
  end
  lines_since_poll = lines_since_poll + 1
  if lines_since_poll >= POLL_EVERY then
    poll()
  end
  local at = breakpoints[line]
  if not (mode or at or watch_count > 0) then
    return
  end
  local file = file_of(getinfo(2, "S").source)
  if not file then
    return
  end
  -- No tail calls here: the frame functions find the paused code right above this hook.
  if (mode and should_stop()) or (at and at[file]) then
    pause(file, line)
  elseif watch_count > 0 then
    local watch = fired_watch()
    if watch then
      pause(file, line, watch)
    end
  end
end

-- Sets the hook in task coroutine `co` (called by the runtime before it runs a callback).
local function install(co)
  sethook(co, hook, "l")
  poll()
end

-- Scripts' own coroutines get the hook too while the debugger is on.
local co_create, co_wrap = coroutine.create, coroutine.wrap
local wrapped = false

local function wrap_coroutines()
  if wrapped then
    return
  end
  wrapped = true
  coroutine.create = function(fn)
    local co = co_create(fn)
    if conn then
      sethook(co, hook, "l")
    end
    return co
  end
  coroutine.wrap = function(fn)
    if not conn or type(fn) ~= "function" then
      return co_wrap(fn)
    end
    return co_wrap(function(...)
      sethook(hook, "l")
      return fn(...)
    end)
  end
end

stop_debugging = function(why)
  if not conn then
    return
  end
  local closing = conn
  conn = nil
  taskhook.set(nil)
  set_output("d")
  pcall(closing.close, closing)
  sethook()
  if why then
    warn(why)
  end
end

-- The public API (as MobDebug's) -------------------------------------------------------------

--- Connects to the IDE at `host:port` (default 127.0.0.1:8818) and pauses at the next line of
--- user code for the IDE's commands. Without an IDE listening: one warning, returns false.
function M.start(host, port)
  if conn then
    return true
  end
  host, port = host or "127.0.0.1", tonumber(port) or 8818
  local sock, err = socket.tcp()
  if sock then
    sock:settimeout(CONNECT_TIMEOUT)
    local ok, cerr = sock:connect(host, port)
    if not ok then
      sock:close()
      sock, err = nil, cerr
    end
  end
  if not sock then
    warn(("no IDE listening at %s:%d (%s); running without the debugger"):format(host, port, tostring(err)))
    return false
  end
  sock:settimeout(nil)
  pcall(sock.setoption, sock, "tcp-nodelay", true)
  conn = sock
  cwd = taskhook.cwd() or "."
  basedir = basedir or (cwd == "/" and "/" or cwd .. "/")
  names = {}
  mode, first_pause = "into", true
  wrap_coroutines()
  taskhook.set(install)
  sethook(hook, "l")
  return true
end

--- Sets the hook in the running coroutine (one the debugger did not see start).
function M.on()
  if conn then
    sethook(hook, "l")
  end
end

--- Removes the hook from the running coroutine.
function M.off()
  sethook()
end

--- Coroutines created from now on are debugged (already so while connected).
function M.coro()
  wrap_coroutines()
end

--- Pauses at the next line of user code.
function M.pause()
  if conn then
    mode = "pause"
    sethook(hook, "l")
  end
end

--- Ends the debugging session; the program runs on.
function M.done()
  stop_debugging()
end

--- True while connected to an IDE.
function M.connected()
  return conn ~= nil
end

return M
