-- net.WebSocketClient / net.WebSocketClientTls (HC3) and plua's net.WebSocketServer /
-- net.WebSocketEchoServer, on top of the `_PY.websocket_*` families.
--
--   local ws = net.WebSocketClientTls()            -- or net.WebSocketClient(); both take
--   ws:addEventListener("connected", fn)           -- ws:// and wss:// URLs
--   ws:addEventListener("dataReceived", function(data, is_binary) end)
--   ws:addEventListener("error", function(message) end)
--   ws:addEventListener("disconnected", function(code, reason) end)
--   ws:connect("wss://host/path", { Authorization = "..." })
--   ws:send("text")  ws:send(bytes, true)  ws:isOpen()  ws:close()
--
--   local server = net.WebSocketServer()                -- server.server_id exists from here on
--   server:start("127.0.0.1", 8080, {
--     connected = function(client, request) end,        -- client: :send(data, binary), :close()
--     message = function(client, data, is_binary) end,  -- or `receive` (the original's name)
--     disconnected = function(client, code, reason) end,
--     error = function(message) end,
--   })                                                   -- true, port | false, message
--   server:broadcast("to everyone")  server:stop()
--
-- A server's client value is an object that also stands for the original's integer id:
-- `tostring(client)` and `"id " .. client` give the id, and the same object comes back for
-- the same connection (so it works as a table key). Client objects carry `id` and `conn_id`.

local PY = _PY

return function(net)
  local WebSocketClient = {}
  WebSocketClient.__index = WebSocketClient

  --- `opts`: `timeout` (ms, connect + handshake), `checkCertificate`/`verify` (default
  --- true), `cafile`, `max_message_size`.
  local function new_client(opts)
    if opts ~= nil and type(opts) ~= "table" then
      error(("net.WebSocketClient: bad argument #1 (table expected, got %s)"):format(type(opts)), 3)
    end
    opts = opts or {}
    local connect_opts = {
      verify = opts.checkCertificate ~= false and opts.verify ~= false,
      cafile = opts.cafile,
      timeout = type(opts.timeout) == "number" and opts.timeout / 1000 or nil,
      max_message_size = opts.max_message_size,
    }
    local id = PY.websocket_client_create()
    return setmetatable({ id = id, conn_id = id, opts = connect_opts }, WebSocketClient)
  end

  function net.WebSocketClient(opts)
    return new_client(opts)
  end

  function net.WebSocketClientTls(opts)
    return new_client(opts)
  end

  function WebSocketClient:__tostring()
    return ("WebSocketClient object: %d"):format(self.id)
  end

  function WebSocketClient:addEventListener(event, fn)
    return PY.websocket_add_event_listener(self.id, event, fn)
  end

  function WebSocketClient:connect(url, headers)
    return PY.websocket_connect(self.id, url, headers, self.opts)
  end

  function WebSocketClient:send(data, binary)
    return PY.websocket_send(self.id, data, binary)
  end

  function WebSocketClient:isOpen()
    return PY.websocket_is_open(self.id)
  end

  function WebSocketClient:close(code, reason)
    return PY.websocket_close(self.id, code, reason)
  end

  -- One connection of a WebSocketServer.
  local Client = {}
  Client.__index = Client

  function Client:send(data, binary)
    return PY.websocket_server_send(self.server, self.id, data, binary)
  end

  function Client:close(code, reason)
    return PY.websocket_server_disconnect(self.server, self.id, code, reason)
  end

  -- The original handed out integer ids: the object reads as its id.
  function Client:__tostring()
    return tostring(self.id)
  end

  function Client.__concat(a, b)
    return tostring(a) .. tostring(b)
  end

  local WebSocketServer = {}
  WebSocketServer.__index = WebSocketServer

  -- The server exists from the constructor on (`server_id`), as in the original.
  function net.WebSocketServer(debug)
    local id = PY.websocket_server_create()
    return setmetatable({ debug = debug, server_id = id, clients = {} }, WebSocketServer)
  end

  local function log(self, ...)
    if self.debug then
      print("[WebSocketServer] " .. tostring(self.server_id), ...)
    end
  end

  --- Listens on host:port (port 0: any free port) with `handlers` (connected, message,
  --- disconnected, error) and `opts` as websocket_server_start. Returns true and the bound
  --- port, or false and a message.
  function WebSocketServer:start(host, port, handlers, opts)
    if handlers ~= nil and type(handlers) ~= "table" then
      error(("WebSocketServer:start: bad argument #3 (table of handlers expected, got %s)"):format(type(handlers)), 2)
    end
    handlers = handlers or {}
    if host == nil or host == "localhost" then
      host = "127.0.0.1"
    end
    local id = self.server_id or PY.websocket_server_create()
    self.server_id = id
    local clients = self.clients
    local on_message = handlers.message or handlers.receive
    PY.websocket_server_add_event_listener(id, "client_connected", function(client_id, request)
      local client = setmetatable({ id = client_id, conn_id = client_id, server = id, request = request }, Client)
      clients[client_id] = client
      log(self, "client connected", client_id)
      if handlers.connected then
        handlers.connected(client, request)
      end
    end)
    PY.websocket_server_add_event_listener(id, "message", function(client_id, data, is_binary)
      local client = clients[client_id]
      if client and on_message then
        on_message(client, data, is_binary)
      end
    end)
    PY.websocket_server_add_event_listener(id, "client_disconnected", function(client_id, code, reason)
      local client = clients[client_id]
      clients[client_id] = nil
      log(self, "client disconnected", client_id, code, reason)
      if client and handlers.disconnected then
        handlers.disconnected(client, code, reason)
      end
    end)
    PY.websocket_server_add_event_listener(id, "error", function(message, client_id)
      log(self, "error", message)
      if handlers.error then
        handlers.error(message, client_id and clients[client_id])
      end
    end)
    local ok, bound = PY.websocket_server_start(id, host, port, opts)
    if not ok then
      -- A fresh, unstarted server takes its place, so `server_id` stays usable for a retry.
      PY.websocket_server_close(id)
      self.server_id = PY.websocket_server_create()
      return false, bound
    end
    self.port = bound
    return true, bound
  end

  --- Sends to one client (a client object or id).
  function WebSocketServer:send(client, data, binary)
    local client_id = type(client) == "table" and client.id or client
    return PY.websocket_server_send(self.server_id, client_id, data, binary)
  end

  --- Sends to every client; returns how many it went to.
  function WebSocketServer:broadcast(data, binary)
    return PY.websocket_server_broadcast(self.server_id, data, binary)
  end

  function WebSocketServer:stop()
    if self.server_id then
      PY.websocket_server_close(self.server_id)
      self.server_id = nil
    end
  end

  --- A server that answers every text message with "Echo " .. message (as the original) and
  --- sends binary messages back unchanged. Returns the WebSocketServer (its `port` field
  --- holds the bound port).
  function net.WebSocketEchoServer(host, port, debug)
    assert(type(host) == "string", "net.WebSocketEchoServer: host must be a string")
    assert(type(port) == "number", "net.WebSocketEchoServer: port must be a number")
    local server = net.WebSocketServer(debug)
    local ok, message = server:start(host, port, {
      message = function(client, data, is_binary)
        client:send(is_binary and data or ("Echo " .. data), is_binary)
      end,
    })
    if not ok then
      error("net.WebSocketEchoServer: " .. tostring(message), 2)
    end
    return server
  end
end
