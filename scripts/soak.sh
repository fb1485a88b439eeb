#!/usr/bin/env bash
# Soak: SOAK_SECONDS (default 600) of mixed load on two release plua processes, sampling RSS and
# open fds of each every SAMPLE_SECONDS (default 10); then the growth from the first sample
# after the warm-up (WARMUP_SECONDS, default 60) to the end. Targets: under 5 % growth, zero
# failed requests (WebSocket clients that drop on purpose are not failures).
#
#   server: an HTTP hello server under `wrk -t1 -c32`, a WebSocket echo server that Python
#           clients connect to, exchange 20 messages with and drop (every third without a close
#           frame), and timers churning (100 one-shot timers re-armed every 10 ms, an interval)
#   qa:     `plua --fibaro --offline` running a QuickApp that updates a property every 100 ms
#           and handles `turnOn`/`turnOff`, under GET /api/devices/ID and POST .../action/...
#
#   scripts/soak.sh                      # 10 minutes
#   SOAK_SECONDS=120 WARMUP_SECONDS=30 scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${SOAK_SECONDS:-600}
sample=${SAMPLE_SECONDS:-10}
warmup=${WARMUP_SECONDS:-60}
bin=${PLUA_BIN:-target/release/plua}
[[ -x $bin ]] || cargo build --release
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_port=$(free_port)
ws_port=$(free_port)
api_port=$(free_port)

cat >"$dir/server.lua" <<LUA
assert(_PY.http_server_start("127.0.0.1", $http_port, function(req) return 200, "hello" end))
local ws = require("net").WebSocketServer()
assert(ws:start("127.0.0.1", $ws_port, { message = function(client, data) client:send(data) end }))
local fired = 0
local function arm() setTimeout(function() fired = fired + 1 end, math.random(1, 50)) end
setInterval(function() for _ = 1, 100 do arm() end end, 10)
print("ready")
io.stdout:flush()
LUA

cat >"$dir/qa.lua" <<'LUA'
--%%name:Soak
--%%type:com.fibaro.binarySwitch
function QuickApp:turnOn() self:updateProperty("value", true) end
function QuickApp:turnOff() self:updateProperty("value", false) end
function QuickApp:onInit()
  local n = 0
  setInterval(function()
    n = n + 1
    self:updateProperty("power", n % 1000)
    self:setVariable("count", tostring(n))
  end, 100)
  print("ready")
end
LUA

# WebSocket clients: connect, 20 echoes, drop (every third one without a close frame).
cat >"$dir/ws_clients.py" <<'PY'
import socket, os, sys, time, base64
port, until = int(sys.argv[1]), time.time() + float(sys.argv[2])
done = failed = 0
def frame(payload, opcode=1):
    mask = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
while time.time() < until:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)) + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk: raise IOError("closed during handshake")
            data += chunk
        if not data.startswith(b"HTTP/1.1 101"): raise IOError(data[:40])
        rest = data.split(b"\r\n\r\n", 1)[1]
        for i in range(20):
            msg = b"message %d" % i
            s.sendall(frame(msg))
            while msg not in rest:
                chunk = s.recv(4096)
                if not chunk: raise IOError("closed mid-exchange")
                rest += chunk
            rest = b""
        if done % 3:
            s.sendall(frame(b"\x03\xe8", 8))
        s.close()
        done += 1
    except Exception as e:
        failed += 1
        print("ws failure:", e, file=sys.stderr)
print(done, failed)
PY

# API calls on the QuickApp: GETs and turnOn/turnOff actions; counts non-2xx answers.
cat >"$dir/api_calls.py" <<'PY'
import http.client, sys, time, json
port, until = int(sys.argv[1]), time.time() + float(sys.argv[2])
ok = failed = 0
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
devices = json.loads((conn.request("GET", "/api/devices") or conn.getresponse()).read())
qa = [d["id"] for d in devices if d.get("name") == "Soak"][0]
i = 0
while time.time() < until:
    i += 1
    try:
        if i % 2:
            conn.request("GET", "/api/devices/%d" % qa)
        else:
            conn.request("POST", "/api/devices/%d/action/%s" % (qa, "turnOn" if i % 4 else "turnOff"),
                         body='{"args":[]}', headers={"Content-Type": "application/json"})
        r = conn.getresponse(); r.read()
        if 200 <= r.status < 300: ok += 1
        else: failed += 1
    except Exception as e:
        failed += 1
        print("api failure:", e, file=sys.stderr)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    time.sleep(0.002)
print(ok, failed)
PY

"$bin" "$dir/server.lua" >"$dir/server.out" 2>&1 &
server=$!
"$bin" --fibaro --offline --port "$api_port" "$dir/qa.lua" >"$dir/qa.out" 2>&1 &
qa=$!
for _ in $(seq 200); do
  grep -q ready "$dir/server.out" && grep -q ready "$dir/qa.out" && break
  sleep 0.05
done
grep -q ready "$dir/qa.out" || { echo "QuickApp did not start: $(cat "$dir/qa.out")" >&2; exit 1; }

wrk -t1 -c32 -d"${duration}s" "http://127.0.0.1:$http_port/" >"$dir/wrk.out" 2>&1 &
wrk_pid=$!
python3 "$dir/ws_clients.py" "$ws_port" "$duration" >"$dir/ws.out" 2>"$dir/ws.err" &
ws_pid=$!
python3 "$dir/api_calls.py" "$api_port" "$duration" >"$dir/api.out" 2>"$dir/api.err" &
api_pid=$!

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
printf '%6s %14s %10s %14s %10s\n' t server_KiB server_fds qa_KiB qa_fds
samples=()
start=$(date +%s)
while :; do
  sleep "$sample"
  t=$(($(date +%s) - start))
  line="$t $(rss $server) $(fds $server) $(rss $qa) $(fds $qa)"
  printf '%6s %14s %10s %14s %10s\n' $line
  samples+=("$line")
  # The last sample is taken while the load still runs.
  ((t + sample >= duration)) && break
  kill -0 "$server" 2>/dev/null && kill -0 "$qa" 2>/dev/null || { echo "a plua process died" >&2; break; }
done
wait "$wrk_pid" "$ws_pid" "$api_pid" || true

# Growth from the first sample at or after the warm-up to the last one.
base=""
for s in "${samples[@]}"; do read -r t _ <<<"$s"; ((t >= warmup)) && { base=$s; break; }; done
[[ -n $base ]] || base=${samples[0]}
last=${samples[-1]}
read -r _ b_srss b_sfd b_qrss b_qfd <<<"$base"
read -r _ l_srss l_sfd l_qrss l_qfd <<<"$last"
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f %%", (b - a) * 100 / a }'; }
echo
echo "growth after warm-up ($warmup s): server RSS $(pct "$b_srss" "$l_srss"), fds $b_sfd -> $l_sfd;" \
  "QuickApp RSS $(pct "$b_qrss" "$l_qrss"), fds $b_qfd -> $l_qfd"
requests=$(awk '/requests in/ {print $1}' "$dir/wrk.out")
errors=$(grep -E 'Socket errors|Non-2xx' "$dir/wrk.out" | tr -s ' ' || true)
half=${samples[$((${#samples[@]} / 2))]}
read -r h_t h_srss _ h_qrss _ <<<"$half"
echo "growth over the second half (from ${h_t} s): server RSS $(pct "$h_srss" "$l_srss"), QuickApp RSS $(pct "$h_qrss" "$l_qrss")"
echo "wrk: $requests requests${errors:+, $errors}"
read -r ws_done ws_failed <"$dir/ws.out" || true
echo "WebSocket clients: ${ws_done:-?} sessions of 20 echoes, ${ws_failed:-?} failed"
read -r api_ok api_failed <"$dir/api.out" || true
echo "API calls: ${api_ok:-?} answered 2xx, ${api_failed:-?} failed"
head -3 "$dir/ws.err" "$dir/api.err" 2>/dev/null | grep -v '^$' || true
