-- net.TCPSocket (HC3) and the net.tcp_*_sync coroutine wrappers, on top of _PY's TCP family.
--
--   local sock = net.TCPSocket({ timeout = 5000 })          -- ms, as on the HC3
--   sock:connect(ip, port, { success = function() end, error = function(message) end })
--   sock:read({ success = function(data) end, error = ... })         -- what has arrived
--   sock:readUntil("\n", { success = function(data) end, ... })      -- delimiter included
--   sock:send(data, { success = function(bytes) end, ... })          -- also :write
--   sock:close()

local PY = _PY
local checks = require("plua.checks")
-- Callback tables: `{ success = fn, error = fn }`, both optional.
local CALLBACKS = { success = "function", error = "function" }

return function(net)
  local TCPSocket = {}
  TCPSocket.__index = TCPSocket

  local function fail(callbacks, message)
    if callbacks and callbacks.error then
      setTimeout(callbacks.error, 0, message)
    end
  end

  local function reply(callbacks)
    return function(ok, value, message)
      if ok then
        if callbacks and callbacks.success then
          callbacks.success(value)
        end
      elseif callbacks and callbacks.error then
        callbacks.error(message)
      end
    end
  end

  --- A TCP socket; `opts.timeout` (ms) limits connects and reads.
  function net.TCPSocket(opts)
    checks.fields("net.TCPSocket", 1, opts, { timeout = "number" })
    return setmetatable({ opts = opts or {}, id = nil }, TCPSocket)
  end

  -- Wraps an existing connection id (server side).
  function net._wrapTCP(id)
    return setmetatable({ opts = {}, id = id }, TCPSocket)
  end

  function TCPSocket:__tostring()
    return ("TCPSocket object: %s"):format(self.id and tostring(self.id) or "not connected")
  end

  local function seconds(self)
    local ms = self.opts.timeout
    return type(ms) == "number" and ms / 1000 or nil
  end

  function TCPSocket:connect(ip, port, callbacks)
    ip = checks.string("net.TCPSocket:connect", 1, ip)
    port = checks.port("net.TCPSocket:connect", 2, port)
    checks.fields("net.TCPSocket:connect", 3, callbacks, CALLBACKS)
    local limit = seconds(self)
    PY.tcp_connect(ip, port, function(ok, id, message)
      if ok then
        self.id = id
        if limit then
          PY.tcp_set_timeout(id, limit)
        end
        if callbacks and callbacks.success then
          callbacks.success()
        end
      elseif callbacks and callbacks.error then
        callbacks.error(message)
      end
    end, { timeout = limit })
  end

  function TCPSocket:read(callbacks)
    checks.fields("net.TCPSocket:read", 1, callbacks, CALLBACKS)
    if not self.id then
      return fail(callbacks, "Not connected")
    end
    PY.tcp_read(self.id, 65536, reply(callbacks))
  end

  function TCPSocket:readUntil(delimiter, callbacks)
    delimiter = checks.string("net.TCPSocket:readUntil", 1, delimiter)
    checks.fields("net.TCPSocket:readUntil", 2, callbacks, CALLBACKS)
    if not self.id then
      return fail(callbacks, "Not connected")
    end
    PY.tcp_read_until(self.id, delimiter, 1024 * 1024, reply(callbacks))
  end

  function TCPSocket:send(data, callbacks)
    data = checks.string("net.TCPSocket:send", 1, data)
    checks.fields("net.TCPSocket:send", 2, callbacks, CALLBACKS)
    if not self.id then
      return fail(callbacks, "Not connected")
    end
    PY.tcp_write(self.id, data, reply(callbacks))
  end
  TCPSocket.write = TCPSocket.send

  function TCPSocket:close()
    if self.id then
      PY.tcp_close(self.id)
      self.id = nil
    end
  end

  -- Coroutine-friendly wrappers (they suspend only the calling coroutine).
  net.tcp_connect_sync = PY.tcp_connect_sync
  net.tcp_write_sync = PY.tcp_write_sync
  net.tcp_read_sync = PY.tcp_read_sync
  net.tcp_close_sync = PY.tcp_close_sync

  -- The original's blocking names for the same calls.
  net.tcp_connect_direct = PY.tcp_connect_sync
  net.tcp_write_direct = PY.tcp_write_sync
  net.tcp_read_direct = PY.tcp_read_sync
  net.tcp_close_direct = PY.tcp_close_sync
end
