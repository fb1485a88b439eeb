-- TCP bulk sink for scripts/bench.sh (figure 7).
--
-- Listens on 127.0.0.1 (port 0 = a free one, or arg[1]); prints `port=<n>` on stdout first,
-- then serves until killed. Per connection: the first line the client sends is the number of
-- payload bytes that follow (`<n>\n`); the server counts the bytes it gets through
-- data_received and, once all n have arrived, writes "done\n" back.
--
-- Usage: plua tcp_bulk_server.lua [PORT]

local port = math.tointeger(tonumber(arg and arg[1] or nil)) or 0
local server = _PY.tcp_server_create()
local conns = {}                       -- client id -> { want = n or nil, got = n, head = "" }

_PY.tcp_server_add_event_listener(server, "data_received", function(client, data)
  local c = conns[client]
  if not c then
    c = { got = 0, head = "" }
    conns[client] = c
  end
  if not c.want then                   -- still reading the header line
    c.head = c.head .. data
    local nl = c.head:find("\n", 1, true)
    if not nl then return end
    c.want = math.tointeger(tonumber(c.head:sub(1, nl - 1))) or 0
    c.got = #c.head - nl
    c.head = nil
  else
    c.got = c.got + #data
  end
  if c.got >= c.want then
    conns[client] = nil
    _PY.tcp_write(client, "done\n")
  end
end)
_PY.tcp_server_add_event_listener(server, "client_disconnected", function(client)
  conns[client] = nil
end)
_PY.tcp_server_add_event_listener(server, "error", function(message)
  io.stderr:write("tcp_bulk_server: ", tostring(message), "\n")
end)

local ok, message, bound = _PY.tcp_server_start(server, "127.0.0.1", port)
if not ok then
  io.stderr:write("tcp_bulk_server: ", tostring(message), "\n")
  os.exit(1)
end
print("port=" .. bound)
