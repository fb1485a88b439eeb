#!/usr/bin/env bash
# Scale figures (not a CI test: it takes a minute and 20k file descriptors): the release plua
# holding N idle keep-alive HTTP connections (each has had one request answered), N idle
# WebSocket connections (each has had one message echoed), and T pending timers; the memory
# each costs, from the server's RSS before and after. Targets: < 8 KB per idle HTTP
# connection, < 300 B per pending timer.
#
#   scripts/scale.sh                   # N=10000, T=100000
#   CONNS=2000 TIMERS=10000 scripts/scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${CONNS:-10000}
timers=${TIMERS:-100000}
bin=${PLUA_BIN:-target/release/plua}
[[ -x $bin ]] || cargo build --release
# Each end (plua, the load generator) holds one descriptor per connection; the hard limit
# may be all a sandbox allows.
want=$((conns + 1024)) hard=$(ulimit -Hn)
[[ $hard == unlimited ]] || ((want <= hard)) || want=$hard
ulimit -n "$want"
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# The load generator: opens `conns` connections to the port, in batches, does one exchange on
# each (an HTTP GET, or a WebSocket handshake and one echoed message), keeps them all open and
# prints "held N"; then waits for a line on stdin and exits.
cat >"$dir/hold.py" <<'PY'
import socket, sys, base64, os
kind, port, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
def exchange(s):
    if kind == "http":
        s.sendall(b"GET /idle HTTP/1.1\r\nHost: x\r\n\r\n")
        want = b"idle"
    else:
        key = base64.b64encode(os.urandom(16))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        assert data.startswith(b"HTTP/1.1 101"), data
        mask = b"\x01\x02\x03\x04"
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(b"ping"))
        s.sendall(b"\x81\x84" + mask + payload)
        want = b"ping"
    data = b""
    while want not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("closed by the server after %d connections" % len(held))
        data += chunk
for i in range(conns):
    s = socket.create_connection(("127.0.0.1", port))
    exchange(s)
    held.append(s)
print("held", len(held), flush=True)
sys.stdin.readline()
PY

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts `$1` (a Lua script) under plua; waits until it prints "ready"; sets `pid`.
start_server() {
  "$bin" --max-connections $((conns + 100)) "$1" >"$dir/server.out" 2>&1 &
  pid=$!
  for _ in $(seq 200); do grep -q ready "$dir/server.out" && return; sleep 0.05; done
  echo "server did not start: $(cat "$dir/server.out")" >&2
  exit 1
}

# Measures `$1` (http|ws) on the server script `$2`.
measure() {
  local kind=$1 script=$2 before after
  start_server "$script"
  # Warm-up: a few connections first so allocator arenas and Lua's first tables are there.
  python3 "$dir/hold.py" "$kind" "$port" 50 </dev/null >/dev/null
  sleep 0.5
  before=$(rss_kib "$pid")
  coproc HOLD { python3 "$dir/hold.py" "$kind" "$port" "$conns"; }
  local line
  read -r line <&"${HOLD[0]}" || { echo "load generator failed" >&2; exit 1; }
  sleep 1
  after=$(rss_kib "$pid")
  local fds
  fds=$(ls "/proc/$pid/fd" | wc -l)
  echo >&"${HOLD[1]}"
  wait "$HOLD_PID" 2>/dev/null || true
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  printf '%-34s %8s %10s KiB -> %8s KiB %10s B/connection (%s open fds)\n' \
    "$kind: $line idle connections" "" "$before" "$after" \
    "$(( (after - before) * 1024 / conns ))" "$fds"
}

port=$(free_port)
cat >"$dir/http.lua" <<LUA
-- Room for every connection, and no idle timeout during the measurement.
local opts = { max_connections = $conns + 100, idle_timeout = 600 }
assert(_PY.http_server_start("127.0.0.1", $port, function(req) return 200, "idle" end, opts))
print("ready")
io.stdout:flush()
LUA
measure http "$dir/http.lua"

port=$(free_port)
cat >"$dir/ws.lua" <<LUA
local server = require("net").WebSocketServer()
assert(server:start("127.0.0.1", $port, {
  message = function(client, data) client:send(data) end,
}, { max_connections = $conns + 100, idle_timeout = 600 }))
print("ready")
io.stdout:flush()
LUA
measure ws "$dir/ws.lua"

cat >"$dir/timers.lua" <<LUA
local function rss()
  for line in io.lines("/proc/self/status") do
    local kib = line:match("^VmRSS:%s+(%d+)")
    if kib then return tonumber(kib) end
  end
end
local ids = {}
for i = 1, 1000 do ids[i] = setTimeout(function() end, 3600000) end
for i = 1, 1000 do clearTimeout(ids[i]) end
collectgarbage() collectgarbage()
local before = rss()
for i = 1, $timers do setTimeout(function() print("never", i) end, 3600000 + i) end
collectgarbage() collectgarbage()
local after = rss()
print(("timers: %d pending %16d KiB -> %8d KiB %10d B/timer (Lua heap %d KiB)"):format(
  $timers, before, after, (after - before) * 1024 // $timers, collectgarbage("count") // 1))
os.exit(0)
LUA
"$bin" "$dir/timers.lua"
