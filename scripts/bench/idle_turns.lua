-- Loop-turn cost with idle connections open (scripts/bench.sh, alive-check figure).
--
-- Listens on 127.0.0.1 (free port, printed as `port=<n>`), waits until N clients are connected
-- (a peer opens them and then only holds them), then runs TURNS loop turns: a chain of
-- `setTimeout(fn, 0)` where each callback schedules the next, so every turn runs one callback
-- and decides once whether the process is still alive. Prints the cost of one turn; comparing
-- N = 10 with N = 10,000 shows whether that decision grows with the number of sockets.
--
-- The decision is made as hard as it gets: the chain's timers, the server and all clients but
-- the last are unreferenced (`_PY.unref`), so no timer answers it and the socket floor is asked
-- every turn, with one live connection among N (a scan would look at N/2 of them on average).
--
-- Usage: plua idle_turns.lua N [TURNS]
-- Prints key=value lines; bench.sh reads `ns_per_turn`.

local N = math.tointeger(tonumber(arg and arg[1] or nil)) or 10
local TURNS = math.tointeger(tonumber(arg and arg[2] or nil)) or 200000
local now = _PY.get_time

local server = _PY.tcp_server_create()
local connected = 0
local function run_turns()
  local left, t0 = TURNS, now()
  local function turn()
    left = left - 1
    if left > 0 then
      _PY.unref(setTimeout(turn, 0))
      return
    end
    local total = now() - t0
    print("connections=" .. connected)
    print("turns=" .. TURNS)
    print(string.format("ns_per_turn=%.0f", total / TURNS * 1e9))
    os.exit(0)
  end
  _PY.unref(setTimeout(turn, 0))
end
_PY.tcp_server_add_event_listener(server, "client_connected", function(client)
  connected = connected + 1
  if connected < N then
    _PY.unref(client)
  end
  if connected == N then
    _PY.unref(server) -- it kept the process alive until now
    run_turns()
  end
end)
-- Room for every connection (bench.sh raises the process-wide cap with --max-connections).
local ok, message, bound = _PY.tcp_server_start(server, "127.0.0.1", 0, { max_connections = N + 100 })
if not ok then
  io.stderr:write("idle_turns: ", tostring(message), "\n")
  os.exit(1)
end
print("port=" .. bound)
io.stdout:flush()
