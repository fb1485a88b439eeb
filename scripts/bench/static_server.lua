-- Static-file server for scripts/bench.sh (figure 17): serves the directory arg[1] under "/"
-- with net.HTTPServer():static on 127.0.0.1 and a free port; prints `port=<n>`, then serves
-- until it is killed.
--
-- Usage: plua static_server.lua DIRECTORY

local net = require("net")
local directory = arg and arg[1]
if not directory then
  io.stderr:write("static_server: a directory is needed\n")
  os.exit(2)
end
local server = net.HTTPServer():static("/", directory)
local ok, port = server:start("127.0.0.1", 0)
if not ok then
  io.stderr:write("static_server: ", tostring(port), "\n")
  os.exit(1)
end
print("port=" .. port)
