-- TCP echo server for scripts/bench.sh (figure 6).
--
-- Listens on 127.0.0.1 (port 0 = a free one, or arg[1]) and writes every chunk a client sends
-- straight back to it (data_received -> tcp_write). Prints `port=<n>` on stdout first (print is
-- flushed once the loop goes idle), then serves until it is killed.
--
-- Usage: plua tcp_echo_server.lua [PORT]

local port = math.tointeger(tonumber(arg and arg[1] or nil)) or 0
local server = _PY.tcp_server_create()

_PY.tcp_server_add_event_listener(server, "data_received", function(client, data)
  _PY.tcp_write(client, data)
end)
_PY.tcp_server_add_event_listener(server, "error", function(message)
  io.stderr:write("tcp_echo_server: ", tostring(message), "\n")
end)

local ok, message, bound = _PY.tcp_server_start(server, "127.0.0.1", port)
if not ok then
  io.stderr:write("tcp_echo_server: ", tostring(message), "\n")
  os.exit(1)
end
print("port=" .. bound)
