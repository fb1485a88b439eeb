-- socket: a blocking, LuaSocket-compatible subset (SPEC section 6). The sockets themselves are
-- in Rust (`socket.core`, src/api/luasocket.rs); this file adds LuaSocket's Lua-level helpers,
-- as LuaSocket's own socket.lua does: connect, bind, skip, newtry/try/protect.

local core = require("socket.core")
local socket = core

-- Tags errors raised by a `try` function so that `protect` can turn them back into nil, err.
local tagged = {}

--- Returns its arguments after the first `d`.
function socket.skip(d, ...)
  return select(d + 1, ...)
end

--- A `try` function: returns all its arguments when the first is truthy; otherwise calls
--- `finalizer` (if any) and raises the second argument so that `protect` catches it.
function socket.newtry(finalizer)
  return function(...)
    if (...) then return ... end
    if finalizer then finalizer() end
    error(setmetatable({ (select(2, ...)) }, tagged), 0)
  end
end

--- Wraps `f` so that errors raised by `try` become `nil, err` results; other errors propagate.
function socket.protect(f)
  return function(...)
    local result = table.pack(pcall(f, ...))
    if result[1] then return table.unpack(result, 2, result.n) end
    local err = result[2]
    if getmetatable(err) == tagged then return nil, err[1] end
    error(err, 0)
  end
end

socket.try = socket.newtry()

local checks = require("plua.checks")

-- The host and port arguments of the helpers below, checked under the helper's own name (the
-- methods they call would name themselves).
local function want_address(name, host, port)
  if type(host) ~= "string" and type(host) ~= "number" then
    checks.bad(name, 1, "string", host)
  end
  local n = tonumber(port)
  if n == nil or n ~= math.floor(n) or n < 0 or n > 65535 then
    if type(port) == "number" then
      checks.raise(("%s: bad argument #2 (port 0-65535 expected, got %s)"):format(name, tostring(port)))
    end
    checks.bad(name, 2, "port", port)
  end
end

local function connect(create, address, port, laddress, lport)
  local sock, err = create()
  if not sock then return nil, err end
  if laddress then
    local ok, berr = sock:bind(laddress, lport or 0)
    if not ok then sock:close() return nil, berr end
  end
  local ok, cerr = sock:connect(address, port)
  if not ok then sock:close() return nil, cerr end
  return sock
end

--- `socket.connect(address, port [, laddress [, lport [, family]]])`: a connected client or
--- nil, err. `family` is "inet" or "inet6" to restrict the address family.
function socket.connect(address, port, laddress, lport, family)
  want_address("socket.connect", address, port)
  local create = socket.tcp
  if family == "inet" then create = socket.tcp4 elseif family == "inet6" then create = socket.tcp6 end
  return connect(create, address, port, laddress, lport)
end

function socket.connect4(address, port, laddress, lport)
  want_address("socket.connect4", address, port)
  return connect(socket.tcp4, address, port, laddress, lport)
end

function socket.connect6(address, port, laddress, lport)
  want_address("socket.connect6", address, port)
  return connect(socket.tcp6, address, port, laddress, lport)
end

--- `socket.bind(host, port [, backlog])`: a listening server (address reuse on) or nil, err.
function socket.bind(host, port, backlog)
  want_address("socket.bind", host, port)
  local sock, err = socket.tcp()
  if not sock then return nil, err end
  sock:setoption("reuseaddr", true)
  local ok, berr = sock:bind(host, port)
  if not ok then sock:close() return nil, berr end
  ok, berr = sock:listen(backlog or 32)
  if not ok then sock:close() return nil, berr end
  return sock
end

return socket
