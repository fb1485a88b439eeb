-- TCP echo server on luv (libuv for Lua), the anchor of scripts/bench.sh figure 8.
--
-- Same behaviour as tcp_echo_server.lua: listens on 127.0.0.1 (port 0 = a free one, or
-- arg[1]), writes every chunk a client sends straight back, prints `port=<n>` first, then
-- serves until killed. Debian's lua-luv ships the module for Lua 5.1-5.4; bench.sh runs it
-- with lua5.4.
--
-- Usage: lua5.4 luv_echo_server.lua [PORT]

local uv = require("luv")

local port = math.tointeger(tonumber(arg and arg[1] or nil)) or 0
local server = uv.new_tcp()
assert(server:bind("127.0.0.1", port))
assert(server:listen(128, function(err)
  assert(not err, err)
  local client = uv.new_tcp()
  server:accept(client)
  client:nodelay(true)
  client:read_start(function(rerr, chunk)
    if rerr or not chunk then
      client:close()
    else
      client:write(chunk)
    end
  end)
end))

print("port=" .. server:getsockname().port)
io.stdout:flush()
uv.run()
