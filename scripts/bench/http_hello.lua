-- HTTP hello server for scripts/bench.sh (figures 9 and 10).
--
-- Answers every request with 200 and the body "hello" (keep-alive as the client asks) on
-- 127.0.0.1 (port 0 = a free one, or arg[1]). Prints `port=<n>` on stdout first (print is
-- flushed once the loop goes idle), then serves until it is killed: a running server keeps
-- the process alive.
--
-- Usage: plua http_hello.lua [PORT]

local port = math.tointeger(tonumber(arg and arg[1] or nil)) or 0
local id, bound = _PY.http_server_start("127.0.0.1", port, function()
  return 200, "hello"
end)
if not id then
  io.stderr:write("http_hello: ", tostring(bound), "\n")
  os.exit(1)
end
print("port=" .. bound)
