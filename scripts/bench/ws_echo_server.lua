-- WebSocket echo server for scripts/bench.sh (figures 12 and 13).
--
-- Sends every message back to the client it came from, text as text and binary as binary
-- (_PY.websocket_server_send from the `message` listener), on 127.0.0.1 (port 0 = a free one,
-- or arg[1]). Prints `port=<n>` on stdout first (print is flushed once the loop goes idle),
-- then serves until it is killed: a running server keeps the process alive.
--
-- Usage: plua ws_echo_server.lua [PORT]

local port = math.tointeger(tonumber(arg and arg[1] or nil)) or 0
local send = _PY.websocket_server_send
local sid = _PY.websocket_server_create()
_PY.websocket_server_add_event_listener(sid, "message", function(client, data, is_binary)
  send(sid, client, data, is_binary)
end)
_PY.websocket_server_add_event_listener(sid, "error", function(message)
  io.stderr:write("ws_echo_server: ", tostring(message), "\n")
end)
local ok, bound = _PY.websocket_server_start(sid, "127.0.0.1", port)
if not ok then
  io.stderr:write("ws_echo_server: ", tostring(bound), "\n")
  os.exit(1)
end
print("port=" .. bound)
