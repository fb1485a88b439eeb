-- Raw HTTP hello server on luv (libuv for Lua), an anchor of scripts/bench.sh figure 9.
--
-- Parses just enough HTTP/1.1 to serve a benchmark client on keep-alive connections: each
-- request head (up to its blank line; bodies are not expected) is answered with a fixed
-- "200 OK" and the body "hello", in order, so pipelined requests work too. Listens on
-- 127.0.0.1 (port 0 = a free one, or arg[1]), prints `port=<n>` first, then serves until
-- killed. Runs under lua5.4 with Debian's lua-luv, like luv_echo_server.lua.
--
-- Usage: lua5.4 luv_http_hello.lua [PORT]

local uv = require("luv")

local RESPONSE = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
local port = math.tointeger(tonumber(arg and arg[1] or nil)) or 0
local server = uv.new_tcp()
assert(server:bind("127.0.0.1", port))
assert(server:listen(1024, function(err)
  assert(not err, err)
  local client = uv.new_tcp()
  server:accept(client)
  client:nodelay(true)
  local buf = ""
  client:read_start(function(rerr, chunk)
    if rerr or not chunk then
      client:close()
      return
    end
    buf = buf .. chunk
    local n, pos = 0, 1
    while true do
      local e = buf:find("\r\n\r\n", pos, true)
      if not e then break end
      n, pos = n + 1, e + 4
    end
    if n > 0 then
      buf = buf:sub(pos)
      client:write(n == 1 and RESPONSE or RESPONSE:rep(n))
    end
  end)
end))

print("port=" .. server:getsockname().port)
io.stdout:flush()
uv.run()
