-- net.UDPSocket (HC3), on top of _PY's UDP family. The socket is bound to an ephemeral port on
-- first use (never on every interface unless `:bind` says so), so replies to `sendTo` arrive
-- at `receive`.
--
--   local sock = net.UDPSocket({ broadcast = true, timeout = 2000 })   -- timeout in ms
--   sock:sendTo(data, ip, port, { success = function() end, error = function(message) end })
--   sock:receive({ success = function(data, ip, port) end, error = function(message) end })
--   sock:close()

local PY = _PY
local checks = require("plua.checks")
-- Callback tables: `{ success = fn, error = fn }`, both optional.
local CALLBACKS = { success = "function", error = "function" }

return function(net)
  local UDPSocket = {}
  UDPSocket.__index = UDPSocket

  function net.UDPSocket(opts)
    checks.fields("net.UDPSocket", 1, opts, { broadcast = "boolean", timeout = "number" })
    return setmetatable({ opts = opts or {}, id = nil, closed = false }, UDPSocket)
  end

  function UDPSocket:__tostring()
    return ("UDPSocket object: %s"):format(self.id and tostring(self.id) or "unbound")
  end

  local function fail(callbacks, message)
    if callbacks and callbacks.error then
      setTimeout(callbacks.error, 0, message)
    end
  end

  -- The socket id, binding it first if needed; nil and a message on failure. Unless `:bind`
  -- named an address, a socket first used by `sendTo` binds to the local address of the route
  -- to that destination (127.0.0.1 for a local peer), one first used by `receive` to 127.0.0.1.
  local function ensure(self, host, port, toward)
    if self.closed then
      return nil, "closed"
    end
    if self.id then
      return self.id
    end
    local bind = PY.udp_bind -- loads the socket family (and plua.sockets) on first use
    if host == nil and type(toward) == "string" then
      host = require("plua.sockets").source(toward)
    end
    local ms = self.opts.timeout
    local id, message = bind(host or "127.0.0.1", port or 0, nil, {
      broadcast = self.opts.broadcast and true or false,
      timeout = type(ms) == "number" and ms / 1000 or nil,
    })
    self.id = id
    return id, message
  end

  --- Binds to a local address before use (optional).
  function UDPSocket:bind(host, port)
    if host ~= nil then
      host = checks.string("net.UDPSocket:bind", 1, host)
    end
    if port ~= nil then
      port = checks.port("net.UDPSocket:bind", 2, port)
    end
    return ensure(self, host, port)
  end

  function UDPSocket:sendTo(data, ip, port, callbacks)
    data = checks.string("net.UDPSocket:sendTo", 1, data)
    ip = checks.string("net.UDPSocket:sendTo", 2, ip)
    port = checks.port("net.UDPSocket:sendTo", 3, port)
    checks.fields("net.UDPSocket:sendTo", 4, callbacks, CALLBACKS)
    local id, message = ensure(self, nil, nil, ip)
    if not id then
      return fail(callbacks, message)
    end
    PY.udp_write(id, data, ip, port, function(ok, _, err)
      if ok then
        if callbacks and callbacks.success then
          callbacks.success()
        end
      elseif callbacks and callbacks.error then
        callbacks.error(err)
      end
    end)
  end

  function UDPSocket:receive(callbacks)
    checks.fields("net.UDPSocket:receive", 1, callbacks, CALLBACKS)
    local id, message = ensure(self)
    if not id then
      return fail(callbacks, message)
    end
    PY.udp_read(id, 65536, function(ok, data, err, ip, port)
      if ok then
        if callbacks and callbacks.success then
          callbacks.success(data, ip, port)
        end
      elseif callbacks and callbacks.error then
        callbacks.error(err)
      end
    end)
  end

  function UDPSocket:close()
    if self.id then
      PY.udp_close(self.id)
    end
    self.id, self.closed = nil, true
  end
end
