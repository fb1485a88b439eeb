-- plua's server classes (not on a real HC3): net.TCPServer and net.EchoServer.
--
--   local server = net.TCPServer()
--   server:start("127.0.0.1", 8080, function(client, addr, ip, port)   -- client: a TCPSocket
--     client:read({ success = function(data) client:send(data) end })
--   end)
--   server:stop()

local PY = _PY
local checks = require("plua.checks")

return function(net)
  local TCPServer = {}
  TCPServer.__index = TCPServer

  function net.TCPServer(debug)
    return setmetatable({ debug = debug, server_id = nil }, TCPServer)
  end

  function TCPServer:__tostring()
    return ("TCPServer object: %s"):format(self.server_id and tostring(self.server_id) or "stopped")
  end

  local function log(self, ...)
    if self.debug then
      print("[Server] " .. tostring(self.server_id), ...)
    end
  end

  --- Listens on host:port (port 0: any free port) and calls `on_client(client, addr, ip,
  --- port)` for each connection. Returns true and the bound port, or false and a message.
  function TCPServer:start(host, port, on_client)
    if host ~= nil then
      host = checks.string("net.TCPServer:start", 1, host)
    end
    port = checks.port("net.TCPServer:start", 2, port)
    checks.callback("net.TCPServer:start", 3, on_client)
    local id = PY.tcp_server_create()
    self.server_id = id
    PY.tcp_server_add_event_listener(id, "client_connected", function(client_id, addr)
      log(self, "client connected", client_id, addr)
      local ip, client_port = addr:match("^(.*):(%d+)$")
      if on_client then
        on_client(net._wrapTCP(client_id), addr, ip, tonumber(client_port))
      end
    end)
    PY.tcp_server_add_event_listener(id, "client_disconnected", function(client_id, addr)
      log(self, "client disconnected", client_id, addr)
    end)
    PY.tcp_server_add_event_listener(id, "error", function(message)
      log(self, "error", message)
    end)
    local ok, message, bound = PY.tcp_server_start(id, host, port)
    if not ok then
      self.server_id = nil
      return false, message
    end
    self.port = bound
    log(self, message)
    return true, bound
  end

  function TCPServer:stop()
    if self.server_id then
      PY.tcp_server_close(self.server_id)
      self.server_id = nil
    end
  end

  --- A server that answers every chunk it receives with "Echo: " .. chunk (as the original
  --- plua did). Returns the TCPServer (its `port` field holds the bound port).
  function net.EchoServer(host, port, debug)
    host = checks.string("net.EchoServer", 1, host)
    port = checks.port("net.EchoServer", 2, port)
    local server = net.TCPServer(debug)
    local function echo(client)
      client:read({
        success = function(data)
          client:send("Echo: " .. data, {
            success = function()
              echo(client)
            end,
          })
        end,
        error = function()
          client:close()
        end,
      })
    end
    local ok, message = server:start(host, port, echo)
    if not ok then
      checks.raise("net.EchoServer: " .. tostring(message))
    end
    return server
  end
end
