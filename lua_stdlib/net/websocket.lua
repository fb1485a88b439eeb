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
local checks = require("plua.checks")
local CLIENT_EVENTS = { connected = true, disconnected = true, error = true, dataReceived = true }

return function(net)
  local WebSocketClient = {}
  WebSocketClient.__index = WebSocketClient

  --- `opts`: `timeout` (ms, connect + handshake), `checkCertificate`/`verify` (default
  --- true), `cafile`, `max_message_size`.
  local function new_client(opts)
    checks.fields("net.WebSocketClient", 1, opts, { timeout = "number", checkCertificate = "boolean",
      verify = "boolean", cafile = "string", max_message_size = "integer" })
    opts = opts or {}
    local connect_opts = {
      verify = opts.checkCertificate ~= false and opts.verify ~= false,
      cafile = opts.cafile,
      timeout = type(opts.timeout) == "number" and opts.timeout / 1000 or nil,
      max_message_size = opts.max_message_size,
    }
    -- `handlers` keeps the listeners so that a client connected again after `close` (which
    -- releases the `_PY` client id) gets them on its new id.
    local self = { opts = connect_opts, handlers = {} }
    self.id = PY.websocket_client_create()
    self.conn_id = self.id
    return setmetatable(self, WebSocketClient)
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
    if not CLIENT_EVENTS[event] then
      checks.raise(("net.WebSocketClient:addEventListener: bad argument #1 (event name connected, "
        .. "disconnected, error or dataReceived expected, got %s)"):format(
        type(event) == "string" and ("'" .. event .. "'") or type(event)))
    end
    if type(fn) ~= "function" then
      checks.bad("net.WebSocketClient:addEventListener", 2, "function", fn)
    end
    local ok = PY.websocket_add_event_listener(self.id, event, fn)
    self.handlers[#self.handlers + 1] = { event, fn }
    return ok
  end

  function WebSocketClient:connect(url, headers)
    if type(url) ~= "string" then
      checks.bad("net.WebSocketClient:connect", 1, "URL string", url)
    end
    checks.table("net.WebSocketClient:connect", 2, headers)
    if self.ended then
      -- `close` released the old id: a new one, with the same listeners.
      self.ended = false
      self.id = PY.websocket_client_create()
      for _, handler in ipairs(self.handlers) do
        PY.websocket_add_event_listener(self.id, handler[1], handler[2])
      end
    end
    return PY.websocket_connect(self.id, url, headers, self.opts)
  end

  function WebSocketClient:send(data, binary)
    data = checks.string("net.WebSocketClient:send", 1, data)
    return PY.websocket_send(self.id, data, binary)
  end

  function WebSocketClient:isOpen()
    return PY.websocket_is_open(self.id)
  end

  function WebSocketClient:close(code, reason)
    code = checks.close_code("net.WebSocketClient:close", 1, code)
    if reason ~= nil then
      reason = checks.string("net.WebSocketClient:close", 2, reason)
    end
    local closing = PY.websocket_close(self.id, code, reason)
    self.ended = true
    return closing
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
    if host ~= nil then
      host = checks.string("net.WebSocketServer:start", 1, host)
    end
    port = checks.port("net.WebSocketServer:start", 2, port)
    if handlers ~= nil and type(handlers) ~= "table" then
      checks.bad("net.WebSocketServer:start", 3, "table of handlers", handlers)
    end
    checks.fields("net.WebSocketServer:start", 3, handlers, { connected = "function",
      message = "function", disconnected = "function", error = "function" })
    checks.table("net.WebSocketServer:start", 4, opts)
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
    if type(client) ~= "table" or math.type(client.id) ~= "integer" then
      checks.id("net.WebSocketServer:send", 1, type(client) == "table" and client.id or client, "client or client id")
    end
    data = checks.string("net.WebSocketServer:send", 2, data)
    if not self.server_id then
      return false, "not started"
    end
    local client_id = type(client) == "table" and client.id or client
    return PY.websocket_server_send(self.server_id, client_id, data, binary)
  end

  --- Sends to every client; returns how many it went to.
  function WebSocketServer:broadcast(data, binary)
    data = checks.string("net.WebSocketServer:broadcast", 1, data)
    if not self.server_id then
      return 0
    end
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
    host = checks.string("net.WebSocketEchoServer", 1, host)
    port = checks.port("net.WebSocketEchoServer", 2, port)
    local server = net.WebSocketServer(debug)
    local ok, message = server:start(host, port, {
      message = function(client, data, is_binary)
        client:send(is_binary and data or ("Echo " .. data), is_binary)
      end,
    })
    if not ok then
      checks.raise("net.WebSocketEchoServer: " .. tostring(message))
    end
    return server
  end
end
