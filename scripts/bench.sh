#!/usr/bin/env bash
# scripts/bench.sh — plua performance figures next to an anchor (lua5.4 or Node.js).
#
# Prints each figure as it is measured, then a Markdown table (what | plua | anchor | target)
# to paste into the README:
#   1. start-up + exit of `plua -e ''` vs `lua5.4 -e ''` (hyperfine mean)   target <= 2x lua5.4
#   2. peak RSS of `plua -e ''` vs `lua5.4 -e ''` (/usr/bin/time %M)        target <= 4 MB
#   3. setTimeout(fn, 0) callback throughput, 1,000,000 callbacks vs node    target >= 2,000,000/s
#      and >= 1.5x node
#   4. 100,000 timers with random 0..1000 ms deadlines: drain time and overhead past the
#      largest deadline, vs node                                             lower is better
#   5. CPU (user+sys) of a process idling 3 s on one 100 ms interval, vs node   target ~ 0 ms
#   6. TCP echo round trips/s: one connection, 64 B ping-pong, plua client -> plua echo server
#   7. TCP bulk MB/s: one connection, 1 GiB in 256 KiB writes, plua client -> plua sink server
#      (until its "done"), vs two python3 processes on blocking sockets   target >= 1000 MB/s
#   8. the anchor of 6: the same plua client against a luv echo server (lua5.4 + Debian's
#      lua-luv, libuv); shown in the anchor column of row 6            target 6 >= 8
#   9. HTTP hello: requests/s and p99 latency of `wrk -t1 -c50 -d10s --latency` (keep-alive)
#      against http_hello.lua (_PY.http_server_start, handler returns 200, "hello"), next to
#      the same hello on nginx + libnginx-mod-http-lua (one worker, content_by_lua_block) and
#      on a raw luv server (luv_http_hello.lua, lua5.4)   target >= nginx+lua, goal luv
#  10. HTTP under slowloris: 100 connections each sending one byte of a request head per
#      second; the added delay (median, max) of 20 plain GETs on fresh connections to the plua
#      hello server, vs the same 20 GETs without that load (util.py slowloris)
#                                                                        target <= 100 ms
#  11. The plua HTTP client against the plua hello server: 1,000 sequential GETs (one pooled
#      keep-alive connection) and 1,000 concurrent GETs (http_client.lua)        measured
#  12. WebSocket echo msgs/s, 64 B text messages, one connection ping-pong (send, wait for the
#      echo, repeat): ws_echo_server.lua (_PY.websocket_server_*) vs the same echo on Python
#      `websockets` (ws_echo_server.py, Debian's python3-websockets), both driven by the same
#      Rust load generator (examples/ws_load.rs, tungstenite on one mio thread, every echo
#      checked)                                               measured
#  13. The same with 100 connections, each ping-ponging one message at a time (100 in
#      flight), server and generator pinned to a core each (WS_PIN); with 12: p99 round
#      trip and the server's CPU (user+sys) per message
#                                                           target: more msgs/s than Node ws
#      (no lua-luv anchor: Debian packages no WebSocket library for luv; lua-http runs on
#      cqueues). Both also run against the floor (examples/ws_floor.rs, mio + tungstenite,
#      no Lua) and Node.js's ws (npm, into target/node-ws)  target: CPU/msg <= 1.25x floor
#  16. One loop turn with 10,000 vs 10 idle TCP connections open (idle_turns.lua)
#                                                                  target: no growth
#  17. Static files: one 4 KiB file, `wrk -t1 -c50`, plua's `server:static` vs nginx (one
#      worker, root + sendfile) in alternating runs       target: >= 70% of nginx's req/s
#  14. QuickApp start: time from start to the end of `onInit` of a minimal QA (its onInit
#      calls os.exit(0); hyperfine mean) and peak RSS, `plua --fibaro -o` vs the original
#      plua 1.3.16 (pip-installed into a venv under target/, run with --fibaro --api-port P)
#                                                         target < 10 ms and < 8 MB
#
# Usage: scripts/bench.sh [NAME...]   (NAMEs run only those figures: startup, rss, quickapp, ...)
# Environment:
#   PLUA_BIN=path     use this binary instead of `cargo build --release` + target/release/plua
#   BENCH_REPEAT=n    runs per timer figure, the median is reported (default 5)
#   NODE_BIN=path     Node.js for the anchors (default: `node` on PATH; figures skipped if none)
#   ECHO_ROUNDTRIPS=n round trips per echo run (default 100000, ~2.5 s)
#   BULK_BYTES=n      bytes per bulk run (default 1073741824 = 1 GiB)
#   HTTP_RUNS=n       wrk runs per server for figure 9, the median is reported (default 3)
#   HTTP_DURATION=s   seconds per wrk run (default 10)
#   WS_RUNS=n         ws_load runs per server and connection count, figures 12-13, the median
#                     is reported (default 3)
#   WS_SECONDS=s      measured seconds per ws_load run, after a 0.5 s warm-up (default 5)
#   WS_PIN=0          do not pin server and load generator to a core each for figure 13
#   WS_LOAD_BIN=path  the load generator (default: cargo build --release --example ws_load)
#   WS_PYTHON=path    the python3 that has `websockets` (default /usr/bin/python3: Debian's
#                     python3-websockets is only on Debian's python, not on a pyenv/venv one)
#   ORIG_PLUA=path    the original plua for figure 14 (default: target/plua-orig/bin/plua,
#                     made with `python3 -m venv` + `pip install plua==1.3.16` if missing)
# Needs lua5.4, lua-luv, hyperfine, python3, /usr/bin/time, wrk, nginx, libnginx-mod-http-lua
# and python3-websockets; missing ones are installed with apt-get (on a host with systemd,
# installing nginx also starts the system's nginx on port 80; this script only runs its own,
# from a config in a temp dir, and stops it at the end). Takes about 4 minutes once the
# binaries are built.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/scripts/bench"
REPEAT="${BENCH_REPEAT:-5}"
RUN_TIMEOUT=60                       # seconds, for any single benchmark process
SERVER_TIMEOUT=300                   # seconds, for a server serving all runs of one figure
ECHO_N="${ECHO_ROUNDTRIPS:-100000}"
BULK_BYTES="${BULK_BYTES:-1073741824}"
BULK_CHUNK=262144
HTTP_RUNS="${HTTP_RUNS:-3}"
HTTP_DURATION="${HTTP_DURATION:-10}"
WS_RUNS="${WS_RUNS:-3}"
WS_SECONDS="${WS_SECONDS:-5}"
WS_PYTHON="${WS_PYTHON:-/usr/bin/python3}"
WS_LOAD=""
NGINX_MODULES=/usr/lib/nginx/modules # where Debian's libnginx-mod-* put their .so files
TMP="$(mktemp -d)"
SERVER_PIDS=()                       # servers started by start_server, killed on exit
cleanup() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PLUA=""
NODE=""
NGINX=""
LUA="lua5.4"
ROWS=()                              # Markdown table rows, filled by each figure

say()  { printf '%s\n' "$*"; }
warn() { printf 'bench: %s\n' "$*" >&2; }
calc() { awk "BEGIN { print $* }"; }                   # float arithmetic: calc '1/3'
# fmt FORMAT VALUE: printf-format a number (FORMAT may carry the unit: "%.2f ms");
# "n/a" when VALUE is empty
fmt()  { if [[ -z "${2:-}" ]]; then printf 'n/a'; else awk -v f="$1" -v v="$2" 'BEGIN { printf f, v }'; fi; }
# kilo VALUE: VALUE / 1e3, empty when VALUE is empty
kilo() { if [[ -n "${1:-}" ]]; then calc "$1 / 1e3"; fi; }
# mega VALUE: VALUE / 1e6, empty when VALUE is empty
mega() { if [[ -n "${1:-}" ]]; then calc "$1 / 1e6"; fi; }
median() { python3 "$BENCH/util.py" median "$@"; }
# kv KEY: the value of the last `KEY=value` line on stdin (empty if none)
kv()   { sed -n "s/^$1=//p" | tail -n 1; }
# verdict COND: ✅ if the awk condition holds, ❌ if not, "n/a" when a value is missing
verdict() { if [[ "$1" == *"BAD"* ]]; then echo "n/a"; elif awk "BEGIN { exit !($1) }"; then echo "✅"; else echo "❌"; fi; }
# or_bad VALUE: VALUE, or the token BAD when it is empty (so verdict says n/a)
or_bad() { if [[ -n "$1" ]]; then echo "$1"; else echo "BAD"; fi; }

# run_kv OUTFILE CMD...: run CMD (timeout, stdin closed), stdout to OUTFILE; 0 on success
run_kv() {
  local out="$1"; shift
  local rc=0
  timeout "$RUN_TIMEOUT" "$@" >"$out" 2>"$out.err" </dev/null || rc=$?
  if ((rc)); then
    warn "failed (exit $rc): $*; stderr: $(head -c 400 "$out.err")"
    return 1
  fi
}

# repeat_key KEY CMD...: run CMD $REPEAT times, print the median of KEY (empty if none)
repeat_key() {
  local key="$1"; shift
  local vals=() i v
  for ((i = 1; i <= REPEAT; i++)); do
    if run_kv "$TMP/run.out" "$@"; then
      v="$(kv "$key" <"$TMP/run.out")"
      if [[ -n "$v" ]]; then vals+=("$v"); else warn "no '$key=' in output of: $*"; break; fi
    else
      break                            # a failing run is not retried $REPEAT times
    fi
  done
  if ((${#vals[@]})); then median "${vals[@]}"; fi
}

ensure_tools() {
  local missing=()
  command -v lua5.4    >/dev/null || missing+=(lua5.4)
  lua5.4 -e 'require("luv")' >/dev/null 2>&1 || missing+=(lua-luv)
  command -v hyperfine >/dev/null || missing+=(hyperfine)
  command -v python3   >/dev/null || missing+=(python3)
  [[ -x /usr/bin/time ]]          || missing+=(time)
  command -v timeout   >/dev/null || missing+=(coreutils)
  command -v wrk       >/dev/null || missing+=(wrk)
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
  [[ -f "$NGINX_MODULES/ngx_http_lua_module.so" ]] || missing+=(libnginx-mod-http-lua)
  "$WS_PYTHON" -c 'import websockets' >/dev/null 2>&1 || missing+=(python3-websockets)
  if ((${#missing[@]})); then
    local sudo=""
    [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
    warn "installing: ${missing[*]}"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
  fi
  NODE="${NODE_BIN:-$(command -v node || true)}"
  [[ -n "$NODE" ]] || warn "node not found: Node.js anchors are skipped"
  NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
}

build_plua() {
  if [[ -n "${PLUA_BIN:-}" ]]; then
    PLUA="$(realpath "$PLUA_BIN")"
  else
    say "building: cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet) >&2
    PLUA="$ROOT/target/release/plua"
  fi
  [[ -x "$PLUA" ]] || { warn "no executable plua at $PLUA"; exit 1; }
  if ! "$PLUA" -e '' </dev/null >/dev/null 2>&1; then
    warn "'$PLUA -e \"\"' fails; figures will show n/a"
  fi
  if [[ -n "${WS_LOAD_BIN:-}" ]]; then
    WS_LOAD="$WS_LOAD_BIN"
  else
    say "building: cargo build --release --example ws_load --example ws_floor"
    (cd "$ROOT" && cargo build --release --quiet --example ws_load --example ws_floor) >&2 ||
      warn "building the ws_load / ws_floor examples failed; figures 12-13 will show n/a"
    WS_LOAD="$ROOT/target/release/examples/ws_load"
  fi
  WS_FLOOR="${WS_FLOOR_BIN:-$ROOT/target/release/examples/ws_floor}"
  NODE_WS="${NODE_WS_DIR:-$ROOT/target/node-ws/node_modules}"
  if [[ -n "$NODE" && ! -d "$NODE_WS/ws" && -z "${NODE_WS_DIR:-}" ]]; then
    say "installing Node.js's ws package into target/node-ws (npm)"
    npm install --silent --no-save --prefix "$ROOT/target/node-ws" ws@8 >&2 ||
      warn "could not install the ws package: the Node.js column of 12-13 shows n/a"
  fi
}

# 1. Start-up + exit: hyperfine mean of `plua -e ''` and `lua5.4 -e ''`, no shell in between.
bench_startup() {
  local json="$TMP/startup.json" plua_ms="" lua_ms="" means
  if hyperfine -N --warmup 20 --style none --export-json "$json" \
       "$(printf '%q' "$PLUA") -e ''" "$LUA -e ''" >"$TMP/hyperfine.log" 2>&1; then
    means="$(python3 "$BENCH/util.py" hyperfine-means "$json")"
    plua_ms="$(sed -n 1p <<<"$means" | cut -d' ' -f1)"
    lua_ms="$(sed -n 2p <<<"$means" | cut -d' ' -f1)"
  else
    warn "hyperfine failed: $(tail -n 5 "$TMP/hyperfine.log")"
  fi
  local ratio="" ok
  [[ -n "$plua_ms" && -n "$lua_ms" ]] && ratio="$(calc "$plua_ms / $lua_ms")"
  ok="$(verdict "$(or_bad "$ratio") <= 2")"
  say "[1] start-up + exit  plua $(fmt "%.2f ms" "$plua_ms") | lua5.4 $(fmt "%.2f ms" "$lua_ms")" \
      "| ratio $(fmt "%.2fx" "$ratio") (target <= 2x) $ok"
  ROWS+=("| start-up + exit, \`-e ''\` (hyperfine mean) | $(fmt "%.2f ms" "$plua_ms") | $(fmt "%.2f ms" "$lua_ms") (lua5.4) | ≤ 2× lua5.4: $(fmt "%.2f×" "$ratio") $ok |")
}

# peak_rss_kb CMD...: median over 5 runs of /usr/bin/time's max resident set size (KiB)
peak_rss_kb() {
  local vals=() i
  for ((i = 0; i < 5; i++)); do
    if /usr/bin/time -f %M -o "$TMP/rss" "$@" </dev/null >/dev/null 2>&1; then
      vals+=("$(tail -n 1 "$TMP/rss")")
    fi
  done
  if ((${#vals[@]})); then median "${vals[@]}"; fi
}

# 2. Peak RSS of an empty run (`-e ''`), plua vs lua5.4, in MB (1 MB = 1024 KiB).
bench_rss() {
  local plua_kb lua_kb plua_mb="" lua_mb="" ok
  plua_kb="$(peak_rss_kb "$PLUA" -e '')"
  lua_kb="$(peak_rss_kb "$LUA" -e '')"
  [[ -n "$plua_kb" ]] && plua_mb="$(calc "$plua_kb / 1024")"
  [[ -n "$lua_kb" ]] && lua_mb="$(calc "$lua_kb / 1024")"
  ok="$(verdict "$(or_bad "$plua_mb") <= 4")"
  say "[2] peak RSS         plua $(fmt "%.2f MB" "$plua_mb") | lua5.4 $(fmt "%.2f MB" "$lua_mb") (target <= 4 MB) $ok"
  ROWS+=("| peak RSS, \`-e ''\` | $(fmt "%.2f MB" "$plua_mb") | $(fmt "%.2f MB" "$lua_mb") (lua5.4) | ≤ 4 MB $ok |")
}

# 3. Throughput of 1,000,000 setTimeout(fn, 0) callbacks (median of $REPEAT runs).
bench_throughput() {
  local plua_cps node_cps="" ok
  plua_cps="$(repeat_key callbacks_per_sec "$PLUA" "$BENCH/timers_throughput.lua")"
  [[ -n "$NODE" ]] && node_cps="$(repeat_key callbacks_per_sec "$NODE" "$BENCH/timers_throughput.js")"
  ok="$(verdict "$(or_bad "$plua_cps") >= 2000000")"
  # Issue 13: at least 1.5x Node's throughput in the same run.
  local vs_node="" vs_ok="n/a"
  if [[ -n "$plua_cps" && -n "$node_cps" ]]; then
    vs_node="$(calc "$plua_cps / $node_cps")"
    vs_ok="$(verdict "$vs_node >= 1.5")"
  fi
  say "[3] setTimeout(fn,0) plua $(fmt "%.0f /s" "$plua_cps") | node $(fmt "%.0f /s" "$node_cps") (target >= 2,000,000/s) $ok; $(fmt "%.2fx" "$vs_node") node (target >= 1.5x) $vs_ok"
  ROWS+=("| \`setTimeout(fn, 0)\` throughput, 1M callbacks | $(fmt "%.2f M/s" "$(mega "$plua_cps")") | $(fmt "%.2f M/s" "$(mega "$node_cps")") (node) | ≥ 2 M/s $ok; ≥ 1.5× node: $(fmt "%.2f×" "$vs_node") $vs_ok |")
}

# concurrent_run CMD...: median drain over $REPEAT runs; prints "drain_s max_deadline_ms"
concurrent_run() {
  local drains=() i d m=""
  for ((i = 1; i <= REPEAT; i++)); do
    if run_kv "$TMP/conc.out" "$@"; then
      d="$(kv drain_seconds <"$TMP/conc.out")"
      m="$(kv max_deadline_ms <"$TMP/conc.out")"
      if [[ -n "$d" ]]; then drains+=("$d"); else warn "no 'drain_seconds=' in output of: $*"; break; fi
    else
      break
    fi
  done
  if ((${#drains[@]})); then echo "$(median "${drains[@]}") $m"; fi
}

# 4. 100,000 concurrent timers, random deadlines 0..1000 ms (fixed seed): drain time and
#    overhead = drain - largest deadline.
bench_concurrent() {
  local p n p_drain="" p_max="" p_over="" n_drain="" n_max="" n_over=""
  p="$(concurrent_run "$PLUA" "$BENCH/timers_concurrent.lua")"
  [[ -n "$NODE" ]] && n="$(concurrent_run "$NODE" "$BENCH/timers_concurrent.js")" || n=""
  if [[ -n "$p" ]]; then read -r p_drain p_max <<<"$p"; p_over="$(calc "$p_drain * 1000 - $p_max")"; fi
  if [[ -n "$n" ]]; then read -r n_drain n_max <<<"$n"; n_over="$(calc "$n_drain * 1000 - $n_max")"; fi
  say "[4] 100k timers      plua drain $(fmt "%.3f s" "$p_drain"), overhead $(fmt "%.1f ms" "$p_over")" \
      "| node drain $(fmt "%.3f s" "$n_drain"), overhead $(fmt "%.1f ms" "$n_over") (max deadline ${p_max:-?} ms)"
  ROWS+=("| 100k timers, random 0–1000 ms: drain (overhead past last deadline) | $(fmt "%.3f s" "$p_drain") $(fmt "(+%.0f ms)" "$p_over") | $(fmt "%.3f s" "$n_drain") $(fmt "(+%.0f ms)" "$n_over") (node) | lower is better |")
}

# idle_cpu CMD...: prints "cpu_ms wall_ms" of one run, or nothing if it failed
idle_cpu() {
  local out="$TMP/cpu.out"
  python3 "$BENCH/util.py" cpu "$RUN_TIMEOUT" "$@" >"$out" || return 0
  if [[ "$(kv exit <"$out")" != 0 ]]; then warn "exit $(kv exit <"$out"): $*"; return 0; fi
  echo "$(kv cpu_ms <"$out") $(kv wall_ms <"$out")"
}

# 5. CPU (user+sys) of a process that idles ~3 s on one 100 ms interval (30 ticks).
#    Includes start-up; wall time is shown to confirm it really ran ~3 s.
bench_idle() {
  local lua_code='local n=0; local id; id=setInterval(function() n=n+1 if n>=30 then clearInterval(id) end end, 100)'
  local js_code='let n=0; const id=setInterval(()=>{ n++; if (n>=30) clearInterval(id); }, 100)'
  local p n="" p_cpu="" p_wall="" n_cpu="" n_wall="" ok
  p="$(idle_cpu "$PLUA" -e "$lua_code")"
  [[ -n "$NODE" ]] && n="$(idle_cpu "$NODE" -e "$js_code")"
  [[ -n "$p" ]] && read -r p_cpu p_wall <<<"$p"
  [[ -n "$n" ]] && read -r n_cpu n_wall <<<"$n"
  if [[ -n "$p_wall" ]] && awk "BEGIN { exit !($p_wall < 2900) }"; then
    warn "plua idle run took only $p_wall ms of wall time (expected ~3000): interval broken?"
    p_cpu=""
  fi
  ok="$(verdict "$(or_bad "$p_cpu") < 10")"
  say "[5] idle 3 s CPU     plua $(fmt "%.1f ms" "$p_cpu") (wall $(fmt "%.0f ms" "$p_wall"))" \
      "| node $(fmt "%.1f ms" "$n_cpu") (wall $(fmt "%.0f ms" "$n_wall")) (target ~ 0) $ok"
  ROWS+=("| CPU (user+sys) idling 3 s on a 100 ms interval, incl. start-up | $(fmt "%.1f ms" "$p_cpu") | $(fmt "%.1f ms" "$n_cpu") (node) | ≈ 0 (< 10 ms) $ok |")
}

# start_server NAME CMD...: starts a server (under timeout, in the background), waits up to 5 s
# for its `port=<n>` line on stdout and sets SERVER_PORT (empty if it never came). The pid
# goes to SERVER_PIDS, so the EXIT trap kills it; stop_servers kills them earlier.
start_server() {
  local name="$1"; shift
  local out="$TMP/server-$name.out" i
  SERVER_PORT=""
  : >"$out"                            # exists before the background job opens it
  timeout "$SERVER_TIMEOUT" "$@" >"$out" 2>"$out.err" </dev/null &
  SERVER_PIDS+=($!)
  for ((i = 0; i < 100; i++)); do
    SERVER_PORT="$(kv port <"$out")"
    [[ -n "$SERVER_PORT" ]] && return 0
    kill -0 "$!" 2>/dev/null || break
    sleep 0.05
  done
  warn "server $name did not print its port: $*; stderr: $(head -c 400 "$out.err")"
  return 1
}

stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  SERVER_PIDS=()
}

# 6 + 8. TCP echo round trips/s, 64 B ping-pong on one connection: the plua client
#    (tcp_echo_client.lua, callback style) against the plua echo server (6) and against a luv
#    echo server under lua5.4 (8, the anchor). Runs alternate between the two servers so both
#    see the same machine load; medians of $REPEAT runs of $ECHO_N round trips.
# echo_run PORT PID: one tcp_echo_client.lua run of $ECHO_N round trips against 127.0.0.1:PORT;
# prints "roundtrips_per_sec server_cpu_us_per_message" (the server's CPU from its process PID
# across the run over the $ECHO_N messages it echoed; "-" if unknown), or nothing if it failed.
echo_run() {
  local out="$TMP/echo.out" v c0 c1 per="-"
  c0="$(proc_cpu "$2")"
  run_kv "$out" "$PLUA" "$BENCH/tcp_echo_client.lua" 127.0.0.1 "$1" "$ECHO_N" || return 0
  c1="$(proc_cpu "$2")"
  v="$(kv roundtrips_per_sec <"$out")"
  [[ -n "$c0" && -n "$c1" ]] && per="$(calc "($c1 - $c0) * 1e6 / $ECHO_N")"
  [[ -n "$v" ]] && echo "$v $per"
}

bench_tcp_echo() {
  local ports=("" "") pids=("" "") p_vals=() l_vals=() p_cpu=() l_cpu=() i j r v c
  local p_rts="" l_rts="" p_per="" l_per="" ok ok_cpu
  start_server plua-echo "$PLUA" "$BENCH/tcp_echo_server.lua" && ports[0]="$SERVER_PORT"
  pids[0]="$(child_pid "${SERVER_PIDS[-1]:-}")"
  start_server luv-echo "$LUA" "$BENCH/luv_echo_server.lua" && ports[1]="$SERVER_PORT"
  pids[1]="$(child_pid "${SERVER_PIDS[-1]:-}")"
  for ((i = 1; i <= REPEAT; i++)); do
    for j in 0 1; do
      [[ -n "${ports[j]}" ]] || continue
      r="$(echo_run "${ports[j]}" "${pids[j]}")"
      if [[ -z "$r" ]]; then ports[j]=""; continue; fi  # a failing server is not retried
      read -r v c <<<"$r"
      if ((j == 0)); then p_vals+=("$v"); [[ "$c" != "-" ]] && p_cpu+=("$c")
      else l_vals+=("$v"); [[ "$c" != "-" ]] && l_cpu+=("$c"); fi
    done
  done
  stop_servers
  ((${#p_vals[@]})) && p_rts="$(median "${p_vals[@]}")"
  ((${#l_vals[@]})) && l_rts="$(median "${l_vals[@]}")"
  ((${#p_cpu[@]})) && p_per="$(median "${p_cpu[@]}")"
  ((${#l_cpu[@]})) && l_per="$(median "${l_cpu[@]}")"
  # Each plua run is paired with the luv run right after it (same machine moment): how many
  # pairs plua's server used less CPU per message in, to tell a margin from a tie of medians.
  local lower=0 pairs=0
  if ((${#p_cpu[@]} == ${#l_cpu[@]})); then
    for ((i = 0; i < ${#p_cpu[@]}; i++)); do
      pairs=$((pairs + 1))
      [[ "$(calc "${p_cpu[i]} < ${l_cpu[i]}")" == 1 ]] && lower=$((lower + 1))
    done
  fi
  ok="$(verdict "$(or_bad "$p_rts") >= $(or_bad "$l_rts")")"
  ok_cpu="$(verdict "$(or_bad "$p_per") < $(or_bad "$l_per")")"
  say "[6] TCP echo 64 B    plua server $(fmt "%.0f round trips/s" "$p_rts")," \
      "$(fmt "%.2f us" "$p_per") server CPU/msg (runs: ${p_vals[*]:-none}) (target >= luv) $ok"
  say "[8] TCP echo anchor  luv server  $(fmt "%.0f round trips/s" "$l_rts")," \
      "$(fmt "%.2f us" "$l_per") server CPU/msg (runs: ${l_vals[*]:-none}) (plua CPU/msg < luv) $ok_cpu"
  say "    TCP echo CPU/msg per run: plua ${p_cpu[*]:-none} | luv ${l_cpu[*]:-none};" \
      "plua lower in $lower of $pairs pairs"
  ROWS+=("| TCP echo, 64 B ping-pong on one connection, same plua client: round trips/s | $(fmt "%.1f k/s" "$(kilo "$p_rts")") | $(fmt "%.1f k/s" "$(kilo "$l_rts")") (luv server, lua5.4) | ≥ luv $ok |")
  ROWS+=("| TCP echo, same runs: server CPU (user+sys) per message | $(fmt "%.2f µs" "$p_per") | $(fmt "%.2f µs" "$l_per") (luv server); plua lower in $lower of $pairs paired runs | < luv $ok_cpu |")
}

# 7. TCP bulk throughput on one connection: the plua client sends $BULK_BYTES in 256 KiB
#    writes to the plua sink server, which counts them (data_received) and replies "done";
#    the client's clock runs from the first write to the "done". Anchor: the same transfer
#    between two python3 processes on blocking sockets (the loopback ceiling, roughly).
#    Medians of $REPEAT runs; 1 MB = 10^6 bytes.
bench_tcp_bulk() {
  local port="" p_mbs="" py_mbs="" ok
  if start_server plua-bulk "$PLUA" "$BENCH/tcp_bulk_server.lua"; then port="$SERVER_PORT"; fi
  if [[ -n "$port" ]]; then
    p_mbs="$(repeat_key mb_per_sec "$PLUA" "$BENCH/tcp_bulk_client.lua" 127.0.0.1 "$port" "$BULK_BYTES" "$BULK_CHUNK")"
  fi
  stop_servers
  py_mbs="$(repeat_key mb_per_sec python3 "$BENCH/util.py" tcp-bulk "$BULK_BYTES" "$BULK_CHUNK")"
  ok="$(verdict "$(or_bad "$p_mbs") >= 1000")"
  say "[7] TCP bulk         plua $(fmt "%.0f MB/s" "$p_mbs") | python3 $(fmt "%.0f MB/s" "$py_mbs")" \
      "(target >= 1000 MB/s) $ok"
  local size="$(calc "$BULK_BYTES / 1048576") MiB"
  [[ "$BULK_BYTES" == 1073741824 ]] && size="1 GiB"
  ROWS+=("| TCP bulk, $size in 256 KiB writes on one connection, until the server's ack | $(fmt "%.0f MB/s" "$p_mbs") | $(fmt "%.0f MB/s" "$py_mbs") (python3, blocking sockets) | ≥ 1000 MB/s $ok |")
}

# start_nginx: writes a minimal nginx.conf (one worker, no daemon, its own pid/log/temp paths
# under $TMP/nginx, 127.0.0.1 and a free port, `content_by_lua_block { ngx.print("hello") }`),
# starts `nginx -c <conf> -p <dir>` under timeout in the background (pid to SERVER_PIDS, so
# the EXIT trap stops it: timeout passes the TERM on to the master) and waits until the port
# accepts. Sets SERVER_PORT (empty on failure). Run as root, the worker drops to `nobody`.
# START_NGINX_LOCATION (if set) replaces the body of `location /`.
start_nginx() {
  local dir="$TMP/nginx" port
  local location='default_type text/plain; content_by_lua_block { ngx.print("hello") }'
  [[ -n "${START_NGINX_LOCATION:-}" ]] && location="$START_NGINX_LOCATION"
  SERVER_PORT=""
  mkdir -p "$dir"
  port="$(python3 "$BENCH/util.py" free-port)"
  cat >"$dir/nginx.conf" <<EOF
load_module $NGINX_MODULES/ndk_http_module.so;
load_module $NGINX_MODULES/ngx_http_lua_module.so;
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
    listen 127.0.0.1:$port;
    location / {
      $location
    }
  }
}
EOF
  timeout "$SERVER_TIMEOUT" "$NGINX" -c "$dir/nginx.conf" -p "$dir" \
    >"$TMP/server-nginx.out" 2>&1 </dev/null &
  SERVER_PIDS+=($!)
  if python3 "$BENCH/util.py" wait-port "$port" 5 2>/dev/null; then
    SERVER_PORT="$port"
  else
    warn "nginx did not come up: $(head -c 400 "$TMP/server-nginx.out")" \
         "$(tail -n 5 "$dir/error.log" 2>/dev/null)"
    return 1
  fi
}

# child_pid PID: the (first) child process of PID, e.g. the server under `timeout`; empty if none
child_pid() { pgrep -P "$1" 2>/dev/null | head -n 1 || true; }
# proc_cpu PID: user+sys CPU seconds PID has used so far (empty if it is gone)
proc_cpu() { if [[ -n "$1" ]]; then python3 "$BENCH/util.py" proc-cpu "$1" 2>/dev/null | kv cpu_s; fi; }

# wrk_run PORT PID: one `wrk -t1 -c50 -d${HTTP_DURATION}s --latency` run against
# 127.0.0.1:PORT; prints "rps p99_ms cpu_us_per_request" (the last from the CPU time of the
# server process PID across the run; "-" if unknown), or nothing if it failed. Socket errors
# and non-2xx answers are warned about.
wrk_run() {
  local out="$TMP/wrk.out" rps p99 reqs errs c0 c1 per="-"
  c0="$(proc_cpu "$2")"
  run_kv "$out" wrk -t1 -c50 -d"${HTTP_DURATION}s" --latency "http://127.0.0.1:$1/" || return 0
  c1="$(proc_cpu "$2")"
  python3 "$BENCH/util.py" wrk "$out" >"$out.kv"
  rps="$(kv rps <"$out.kv")"; p99="$(kv p99_ms <"$out.kv")"; reqs="$(kv requests <"$out.kv")"
  errs="$(kv socket_errors <"$out.kv")$(kv non_2xx <"$out.kv")"
  [[ -z "$errs" ]] || warn "wrk against port $1: socket errors / non-2xx: $errs"
  [[ -n "$c0" && -n "$c1" && "${reqs:-0}" -gt 0 ]] && per="$(calc "($c1 - $c0) * 1e6 / $reqs")"
  if [[ -n "$rps" && -n "$p99" ]]; then echo "$rps $p99 $per"; else warn "no figures in wrk output"; fi
}

# 9. HTTP hello, keep-alive: wrk -t1 -c50 against the plua hello server, nginx + lua (one
#    worker) and the raw luv hello server. Each server gets a 1 s warm-up run, then
#    $HTTP_RUNS runs of $HTTP_DURATION s, alternating between the servers so all see the
#    same machine load; medians of requests/s, of p99 latency and of the server's CPU time
#    (user+sys, nginx: its worker) per request. With wrk on one core and the server on the
#    other, requests/s and p99 move with whatever else runs on the machine; CPU per request
#    hardly does, so it is the figure to compare across noisy runs.
bench_http() {
  local ports=("" "" "") pids=("" "" "") i j r v q c
  local pr=() pl=() pc=() nr=() nl=() nc=() lr=() ll=() lc=()
  local p_rps="" p_p99="" p_cpu="" n_rps="" n_p99="" n_cpu="" l_rps="" l_p99="" l_cpu="" goal="" ok
  start_server plua-http "$PLUA" "$BENCH/http_hello.lua" && ports[0]="$SERVER_PORT"
  pids[0]="${SERVER_PIDS[-1]:-}"         # the `timeout` for now
  start_nginx && ports[1]="$SERVER_PORT"
  pids[1]="${SERVER_PIDS[-1]:-}"
  start_server luv-http "$LUA" "$BENCH/luv_http_hello.lua" && ports[2]="$SERVER_PORT"
  pids[2]="${SERVER_PIDS[-1]:-}"
  for j in 0 1 2; do
    if [[ -n "${ports[j]}" ]]; then
      run_kv "$TMP/wrk.out" wrk -t1 -c50 -d1s "http://127.0.0.1:${ports[j]}/" || ports[j]=""
    fi
    pids[j]="$(child_pid "${pids[j]}")"  # the server under its `timeout`
  done
  pids[1]="$(child_pid "${pids[1]}")"    # nginx: master -> its one worker (forked by now)
  for ((i = 1; i <= HTTP_RUNS; i++)); do
    for j in 0 1 2; do
      [[ -n "${ports[j]}" ]] || continue
      r="$(wrk_run "${ports[j]}" "${pids[j]}")"
      if [[ -z "$r" ]]; then ports[j]=""; continue; fi  # a failing server is not retried
      read -r v q c <<<"$r"
      [[ "$c" == "-" ]] && c=""
      case "$j" in
        0) pr+=("$v"); pl+=("$q"); pc+=("$c") ;;
        1) nr+=("$v"); nl+=("$q"); nc+=("$c") ;;
        2) lr+=("$v"); ll+=("$q"); lc+=("$c") ;;
      esac
    done
  done
  stop_servers
  if ((${#pr[@]})); then
    p_rps="$(median "${pr[@]}")"; p_p99="$(median "${pl[@]}")"; p_cpu="$(median "${pc[@]}")"
  fi
  if ((${#nr[@]})); then
    n_rps="$(median "${nr[@]}")"; n_p99="$(median "${nl[@]}")"; n_cpu="$(median "${nc[@]}")"
  fi
  if ((${#lr[@]})); then
    l_rps="$(median "${lr[@]}")"; l_p99="$(median "${ll[@]}")"; l_cpu="$(median "${lc[@]}")"
  fi
  [[ -n "$p_rps" && -n "$l_rps" ]] && goal="$(calc "$p_rps / $l_rps * 100")"
  ok="$(verdict "$(or_bad "$p_rps") >= $(or_bad "$n_rps")")"
  say "[9] HTTP hello       plua $(fmt "%.0f req/s" "$p_rps"), p99 $(fmt "%.2f ms" "$p_p99")," \
      "$(fmt "%.2f us" "$p_cpu") CPU/request (runs: ${pr[*]:-none}) (target >= nginx+lua) $ok"
  say "    HTTP anchors     nginx+lua $(fmt "%.0f req/s" "$n_rps"), p99 $(fmt "%.2f ms" "$n_p99")," \
      "$(fmt "%.2f us" "$n_cpu") CPU/request (runs: ${nr[*]:-none})"
  say "                     luv $(fmt "%.0f req/s" "$l_rps"), p99 $(fmt "%.2f ms" "$l_p99")," \
      "$(fmt "%.2f us" "$l_cpu") CPU/request (runs: ${lr[*]:-none}); plua at $(fmt "%.0f%%" "$goal") of luv"
  ROWS+=("| HTTP hello, keep-alive, \`wrk -t1 -c50 -d${HTTP_DURATION}s\`: requests/s | $(fmt "%.1f k/s" "$(kilo "$p_rps")") | $(fmt "%.1f k/s" "$(kilo "$n_rps")") (nginx + lua, 1 worker); $(fmt "%.1f k/s" "$(kilo "$l_rps")") (luv, lua5.4) | ≥ nginx + lua $ok (goal luv: $(fmt "%.0f%%" "$goal")) |")
  ROWS+=("| HTTP hello, same runs: p99 latency | $(fmt "%.2f ms" "$p_p99") | $(fmt "%.2f ms" "$n_p99") (nginx + lua); $(fmt "%.2f ms" "$l_p99") (luv) | lower is better |")
  ROWS+=("| HTTP hello, same runs: server CPU (user+sys) per request | $(fmt "%.2f µs" "$p_cpu") | $(fmt "%.2f µs" "$n_cpu") (nginx worker); $(fmt "%.2f µs" "$l_cpu") (luv) | lower is better |")
}

# 10. Slowloris: util.py slowloris times 20 GETs (fresh connection each, 50 ms apart) to a
#     fresh plua hello server, then opens 100 connections that each send one byte of a request
#     head per second (staggered over the second), waits 2 s and times 20 GETs again (the
#     slow sender's polling thread runs during the baseline too, without connections). Added
#     delay = loaded - median of the unloaded GETs; median and max are reported (a few tenths
#     of a millisecond either way is noise).
bench_slowloris() {
  local port="" out="$TMP/slowloris.out" add_med="" add_max="" base="" alive="" ok
  if start_server plua-slow "$PLUA" "$BENCH/http_hello.lua"; then port="$SERVER_PORT"; fi
  if [[ -n "$port" ]] && run_kv "$out" python3 "$BENCH/util.py" slowloris "$port" 100 20; then
    add_med="$(kv added_median_ms <"$out")"
    add_max="$(kv added_max_ms <"$out")"
    base="$(kv baseline_median_ms <"$out")"
    alive="$(kv slow_alive <"$out")"
    [[ "$alive" == 100 ]] ||
      warn "slowloris: only ${alive:-?} of 100 slow connections were still open at the end"
  fi
  stop_servers
  ok="$(verdict "$(or_bad "$add_max") <= 100")"
  say "[10] slowloris       added delay median $(fmt "%.2f ms" "$add_med"), max $(fmt "%.2f ms" "$add_max")" \
      "(unloaded median $(fmt "%.2f ms" "$base"); slow connections open at the end: ${alive:-?}/100)" \
      "(target <= 100 ms) $ok"
  ROWS+=("| HTTP under slowloris (100 connections sending 1 B/s): added delay of 20 GETs, median / max | $(fmt "%+.2f ms" "$add_med") / $(fmt "%+.2f ms" "$add_max") | $(fmt "%.2f ms" "$base") (same GETs without it, median) | ≤ 100 ms $ok |")
}

# 11. The plua HTTP client against the plua hello server: 1,000 sequential GETs on one
# pooled keep-alive connection, then 1,000 concurrent GETs (1,000 connections).
bench_http_client() {
  local port="" out="$TMP/http_client.out" seq="" conc=""
  if start_server plua-client-target "$PLUA" "$BENCH/http_hello.lua"; then port="$SERVER_PORT"; fi
  if [[ -n "$port" ]]; then
    seq="$(repeat_key sequential_per_sec "$PLUA" "$BENCH/http_client.lua" 127.0.0.1 "$port" 1000)"
    conc="$(repeat_key concurrent_per_sec "$PLUA" "$BENCH/http_client.lua" 127.0.0.1 "$port" 1000)"
  fi
  stop_servers
  say "[11] HTTP client     1000 sequential $(fmt "%.0f req/s" "$seq") | 1000 concurrent $(fmt "%.0f req/s" "$conc")"
  ROWS+=("| HTTP client, 1,000 GETs to the plua hello server: sequential (one keep-alive connection) / concurrent | $(fmt "%.1f k/s" "$(kilo "$seq")") / $(fmt "%.1f k/s" "$(kilo "$conc")") | — | measured |")
}

# ws_run PORT PID CONNS [CPU]: one ws_load run of $WS_SECONDS s (after 0.5 s of warm-up) with
# CONNS connections ping-ponging 64 B text messages against the echo server on 127.0.0.1:PORT
# (the generator pinned to CPU when given);
# prints "msgs_per_sec p99_us server_cpu_us_per_msg client_cpu_us_per_msg" (the server's from
# the CPU time of its process PID across the run over every echo of the run, warm-up
# included; "-" if unknown), or nothing if it failed.
ws_run() {
  local out="$TMP/ws.out" rate p99 echoed ccpu c0 c1 per="-" pin=()
  [[ -n "${4:-}" ]] && pin=(taskset -c "$4")
  c0="$(proc_cpu "$2")"
  run_kv "$out" "${pin[@]}" "$WS_LOAD" --url "ws://127.0.0.1:$1/" --conns "$3" --size 64 \
    --seconds "$WS_SECONDS" --warmup 0.5 || return 0
  c1="$(proc_cpu "$2")"
  rate="$(kv msgs_per_sec <"$out")"; p99="$(kv p99_us <"$out")"
  echoed="$(kv echoed <"$out")"; ccpu="$(kv client_cpu_us_per_msg <"$out")"
  [[ -n "$c0" && -n "$c1" && "${echoed:-0}" -gt 0 ]] && per="$(calc "($c1 - $c0) * 1e6 / $echoed")"
  if [[ -n "$rate" && -n "$p99" ]]; then echo "$rate $p99 $per ${ccpu:--}"; else warn "no figures in ws_load output"; fi
}

# 12 + 13. WebSocket echo, 64 B text messages, each connection ping-ponging one message at a
#    time: 1 connection (12) and 100 connections (13), against four echo servers: plua
#    (ws_echo_server.lua), the floor (examples/ws_floor.rs: the same echo on mio + tungstenite,
#    no Lua), Node.js's `ws` package (ws_echo_server.js) and Python websockets
#    (ws_echo_server.py), the same load generator (examples/ws_load.rs, which checks every
#    echo) against all. Runs alternate between the servers so all see the same machine load;
#    medians of $WS_RUNS runs of msgs/s, of p99 round trip and of the server's CPU per
#    message. The generator shares the machine with the server: its own CPU per message is
#    printed too (mostly the kernel's loopback TCP, as for the servers).
#    Placement: one connection is a serial chain (only one side has work at any moment), so
#    the scheduler places both processes (loopback wake-ups tend to keep them on one core,
#    sparing a cross-core wake-up per hop). With 100 in flight both sides have work at once:
#    unless WS_PIN=0 (or there is one core) the server is pinned to the last core (all its
#    threads, taskset -a) and the generator to core 0, so the server's rate is not capped by
#    the sum of its and the generator's CPU per message.
#    Targets: plua's server CPU per message within 1.25x of the floor's (100 connections),
#    and more msgs/s than Node's ws.
bench_ws_echo() {
  local labels=("plua" "floor (mio + tungstenite)" "Node.js ws" "Python websockets")
  local ports=("" "" "" "") pids=("" "" "" "") n i j r v q c g gen_cpu="" last_cpu
  local -A rate=() p99=() cpu=() gen=()
  if [[ -n "$WS_LOAD" && -x "$WS_LOAD" ]]; then
    start_server plua-ws "$PLUA" "$BENCH/ws_echo_server.lua" && ports[0]="$SERVER_PORT"
    pids[0]="${SERVER_PIDS[-1]:-}"
    if [[ -x "$WS_FLOOR" ]]; then
      start_server floor-ws "$WS_FLOOR" && ports[1]="$SERVER_PORT"
      pids[1]="${SERVER_PIDS[-1]:-}"
    else
      warn "no ws_floor binary at $WS_FLOOR: the floor column shows n/a"
    fi
    if [[ -n "$NODE" && -d "$NODE_WS/ws" ]]; then
      start_server node-ws env NODE_PATH="$NODE_WS" "$NODE" "$BENCH/ws_echo_server.js" &&
        ports[2]="$SERVER_PORT"
      pids[2]="${SERVER_PIDS[-1]:-}"
    fi
    start_server py-ws "$WS_PYTHON" "$BENCH/ws_echo_server.py" && ports[3]="$SERVER_PORT"
    pids[3]="${SERVER_PIDS[-1]:-}"
  else
    warn "no ws_load binary at ${WS_LOAD:-?}: figures 12-13 skipped"
  fi
  # The server under its `timeout` (`env` execs node, so node is that child too).
  for j in 0 1 2 3; do pids[j]="$(child_pid "${pids[j]}")"; done
  last_cpu=$(($(nproc) - 1))
  for n in 1 100; do
    if ((n > 1 && last_cpu > 0)) && [[ "${WS_PIN:-1}" != 0 ]]; then
      gen_cpu=0
      for j in 0 1 2 3; do
        if [[ -n "${pids[j]}" ]] && ! taskset -a -p -c "$last_cpu" "${pids[j]}" >/dev/null; then
          warn "could not pin server ${pids[j]} to CPU $last_cpu"
        fi
      done
    fi
    local -A runs=() lats=() cpus=() gens=()
    for ((i = 1; i <= WS_RUNS; i++)); do
      for j in 0 1 2 3; do
        [[ -n "${ports[j]}" ]] || continue
        r="$(ws_run "${ports[j]}" "${pids[j]}" "$n" "$gen_cpu")"
        if [[ -z "$r" ]]; then ports[j]=""; continue; fi  # a failing server is not retried
        read -r v q c g <<<"$r"
        runs[$j]+="$v "; lats[$j]+="$q "
        [[ "$c" != "-" ]] && cpus[$j]+="$c "
        [[ "$g" != "-" ]] && gens[$j]+="$g "
      done
    done
    for j in 0 1 2 3; do
      # shellcheck disable=SC2086  # the lists are space-separated numbers
      [[ -n "${runs[$j]:-}" ]] && rate[$j$n]="$(median ${runs[$j]})" && p99[$j$n]="$(median ${lats[$j]})"
      # shellcheck disable=SC2086
      [[ -n "${cpus[$j]:-}" ]] && cpu[$j$n]="$(median ${cpus[$j]})"
      # shellcheck disable=SC2086
      [[ -n "${gens[$j]:-}" ]] && gen[$j$n]="$(median ${gens[$j]})"
    done
    local label="[12] WS echo 1 conn " what="1 connection"
    if ((n > 1)); then
      label="[13] WS echo $n conns"; what="$n connections, one message in flight on each"
      [[ -n "$gen_cpu" ]] && what+=", server and generator pinned to a core each"
    fi
    for j in 0 1 2 3; do
      say "$label ${labels[j]}: $(fmt "%.0f msgs/s" "${rate[$j$n]:-}"), p99 $(fmt "%.0f us" "${p99[$j$n]:-}")," \
          "server $(fmt "%.2f us" "${cpu[$j$n]:-}") CPU/msg, generator $(fmt "%.2f us" "${gen[$j$n]:-}") CPU/msg (runs: ${runs[$j]:-none})"
    done
    local vs_node="" vs_floor="" ok_node ok_floor
    [[ -n "${rate[0$n]:-}" && -n "${rate[2$n]:-}" ]] && vs_node="$(calc "${rate[0$n]} / ${rate[2$n]}")"
    [[ -n "${cpu[0$n]:-}" && -n "${cpu[1$n]:-}" ]] && vs_floor="$(calc "${cpu[0$n]} / ${cpu[1$n]}")"
    ok_node="$(verdict "$(or_bad "$vs_node") > 1")"
    ok_floor="$(verdict "$(or_bad "$vs_floor") <= 1.25")"
    say "                     plua vs Node ws $(fmt "%.2fx" "$vs_node") msgs/s $ok_node;" \
        "plua server CPU/msg vs the floor $(fmt "%.2fx" "$vs_floor") (target <= 1.25x at 100) $ok_floor"
    ROWS+=("| WebSocket echo, 64 B ping-pong, $what: msgs/s | $(fmt "%.1f k/s" "$(kilo "${rate[0$n]:-}")") | $(fmt "%.1f k/s" "$(kilo "${rate[1$n]:-}")") (floor: mio + tungstenite); $(fmt "%.1f k/s" "$(kilo "${rate[2$n]:-}")") (Node.js ws); $(fmt "%.1f k/s" "$(kilo "${rate[3$n]:-}")") (Python websockets) | > Node ws: $(fmt "%.2f×" "$vs_node") $ok_node |")
    ROWS+=("| WebSocket echo, same runs ($n): server CPU (user+sys) per message | $(fmt "%.2f µs" "${cpu[0$n]:-}") | $(fmt "%.2f µs" "${cpu[1$n]:-}") (floor); $(fmt "%.2f µs" "${cpu[2$n]:-}") (Node.js ws); $(fmt "%.2f µs" "${cpu[3$n]:-}") (Python websockets) | ≤ 1.25× floor: $(fmt "%.2f×" "$vs_floor") $ok_floor |")
    ROWS+=("| WebSocket echo, same runs ($n): p99 round trip | $(fmt "%.0f µs" "${p99[0$n]:-}") | $(fmt "%.0f µs" "${p99[1$n]:-}") (floor); $(fmt "%.0f µs" "${p99[2$n]:-}") (Node.js ws); $(fmt "%.0f µs" "${p99[3$n]:-}") (Python websockets) | lower is better |")
  done
  stop_servers
}

# 16. Alive checks: the cost of one loop turn (a chain of setTimeout(fn, 0), one callback per
#     turn) in a plua server holding 10 vs 10,000 idle TCP connections (idle_turns.lua; the
#     connections come from idle_clients.py, which opens them and then only holds them).
#     Deciding whether the process is still alive must not grow with the number of sockets:
#     the timers, the server and all connections but one are unreferenced, so every turn asks
#     the socket floor, and one live connection hides among the N.
#     Medians of $REPEAT runs of 200,000 turns each.
alive_turn_ns() {
  local conns="$1" out="$TMP/alive-$1.out" port="" peer="" i ns=""
  : >"$out"
  timeout "$RUN_TIMEOUT" "$PLUA" --max-connections $((conns + 100)) "$BENCH/idle_turns.lua" "$conns" \
    >"$out" 2>"$out.err" </dev/null &
  local pid=$!
  for ((i = 0; i < 100; i++)); do
    port="$(kv port <"$out")"; [[ -n "$port" ]] && break
    sleep 0.05
  done
  if [[ -n "$port" ]]; then
    python3 "$BENCH/idle_clients.py" "$port" "$conns" >/dev/null 2>&1 &
    peer=$!
  fi
  wait "$pid" 2>/dev/null || warn "idle_turns.lua $conns failed: $(head -c 400 "$out.err")"
  [[ -n "$peer" ]] && { kill "$peer" 2>/dev/null; wait "$peer" 2>/dev/null; } || true
  ns="$(kv ns_per_turn <"$out")"
  [[ -n "$ns" ]] && echo "$ns"
}

bench_alive() {
  local few=() many=() i v f="" m="" ratio ok
  if (($(ulimit -n) < 10100)); then ulimit -n 10100 2>/dev/null || warn "ulimit -n too low for 10,000 connections"; fi
  for ((i = 1; i <= REPEAT; i++)); do
    v="$(alive_turn_ns 10)"; [[ -n "$v" ]] && few+=("$v")
    v="$(alive_turn_ns 10000)"; [[ -n "$v" ]] && many+=("$v")
  done
  ((${#few[@]})) && f="$(median "${few[@]}")"
  ((${#many[@]})) && m="$(median "${many[@]}")"
  [[ -n "$f" && -n "$m" ]] && ratio="$(calc "$m / $f")"
  ok="$(verdict "$(or_bad "${ratio:-}") <= 1.25")"
  say "[16] loop turn       10 idle connections $(fmt "%.0f ns" "$f") | 10,000 $(fmt "%.0f ns" "$m")" \
      "| ratio $(fmt "%.2fx" "${ratio:-}") (target: no growth, <= 1.25x for noise) $ok"
  ROWS+=("| One loop turn (one \`setTimeout(fn, 0)\` callback) with 10,000 idle TCP connections open | $(fmt "%.2f µs" "$(calc "${m:-0} / 1000")") | $(fmt "%.2f µs" "$(calc "${f:-0} / 1000")") (10 connections) | no growth: $(fmt "%.2f×" "${ratio:-}") $ok |")
}

# 14. QuickApp start: `plua --fibaro -o qa.lua` to the end of onInit, vs the original plua.
bench_quickapp() {
  local qa="$TMP/qa_min.lua" orig="${ORIG_PLUA:-$ROOT/target/plua-orig/bin/plua}"
  printf '%s\n' '--%%name:Minimal' '--%%offline:true' \
    'function QuickApp:onInit() self:debug("onInit") os.exit(0) end' >"$qa"
  if [[ ! -x "$orig" && -z "${ORIG_PLUA:-}" ]]; then
    say "installing the original plua 1.3.16 into target/plua-orig (pip)"
    { python3 -m venv "$ROOT/target/plua-orig" &&
      "$ROOT/target/plua-orig/bin/pip" install -q plua==1.3.16; } >&2 ||
      warn "could not install plua 1.3.16: the original's column shows n/a"
  fi
  local port json="$TMP/qa.json" means p_ms="" o_ms="" p_mb="" o_mb=""
  port="$(python3 "$BENCH/util.py" free-port 2>/dev/null || echo 18765)"
  local cmds=("$(printf '%q' "$PLUA") --fibaro -o --port 0 $(printf '%q' "$qa")")
  [[ -x "$orig" ]] && cmds+=("$(printf '%q' "$orig") --fibaro --api-port $port $(printf '%q' "$qa")")
  if (cd "$TMP" && hyperfine -N --warmup 2 --runs 10 --style none --export-json "$json" \
        "${cmds[@]}" >"$TMP/hyperfine_qa.log" 2>&1); then
    means="$(python3 "$BENCH/util.py" hyperfine-means "$json")"
    p_ms="$(sed -n 1p <<<"$means" | cut -d' ' -f1)"
    [[ -x "$orig" ]] && o_ms="$(sed -n 2p <<<"$means" | cut -d' ' -f1)"
  else
    warn "hyperfine (QuickApp start) failed: $(tail -n 5 "$TMP/hyperfine_qa.log")"
  fi
  p_mb="$(cd "$TMP" && /usr/bin/time -f '%M' "$PLUA" --fibaro -o --port 0 "$qa" 2>&1 >/dev/null </dev/null | tail -n 1)"
  p_mb="$(calc "$p_mb / 1024")"
  if [[ -x "$orig" ]]; then
    o_mb="$(cd "$TMP" && /usr/bin/time -f '%M' "$orig" --fibaro --api-port "$port" "$qa" 2>&1 >/dev/null </dev/null | tail -n 1)"
    [[ "$o_mb" =~ ^[0-9]+$ ]] && o_mb="$(calc "$o_mb / 1024")" || o_mb=""
  fi
  local ok
  ok="$(verdict "$(or_bad "$p_ms") < 10 && $(or_bad "$p_mb") < 8")"
  say "[14] QuickApp start  plua $(fmt "%.2f ms" "$p_ms"), $(fmt "%.2f MB" "$p_mb") | plua 1.3.16" \
      "$(fmt "%.0f ms" "$o_ms"), $(fmt "%.1f MB" "$o_mb") (target < 10 ms, < 8 MB) $ok"
  ROWS+=("| QuickApp start to the end of \`onInit\` (minimal QA, hyperfine mean) / peak RSS | $(fmt "%.2f ms" "$p_ms") / $(fmt "%.2f MB" "$p_mb") | $(fmt "%.0f ms" "$o_ms") / $(fmt "%.1f MB" "$o_mb") (plua 1.3.16) | < 10 ms, < 8 MB $ok |")
}

# start_api NAME PORT CMD...: starts an HC3 API server (CMD listens on PORT) under `timeout`
# and waits until it accepts connections and answers /api/devices/5555.
start_api() {
  local name="$1" port="$2" i; shift 2
  : >"$TMP/server-$name.out"
  (cd "$TMP" && exec timeout "$SERVER_TIMEOUT" "$@") >"$TMP/server-$name.out" 2>&1 </dev/null &
  SERVER_PIDS+=($!)
  for ((i = 0; i < 600; i++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/api/devices/5555" 2>/dev/null && return 0
    kill -0 "${SERVER_PIDS[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  warn "API server $name did not come up on port $port: $(tail -c 400 "$TMP/server-$name.out")"
  return 1
}

# wrk_api PORT PID PATH [SCRIPT]: like wrk_run, on http://127.0.0.1:PORT/PATH (SCRIPT: a wrk
# Lua script, e.g. for POST); prints "rps p99_ms cpu_us_per_request" or nothing.
wrk_api() {
  local out="$TMP/wrk-api.out" rps p99 reqs errs c0 c1 per="-" script=()
  [[ -n "${4:-}" ]] && script=(-s "$4")
  c0="$(proc_cpu "$2")"
  run_kv "$out" wrk -t1 -c50 -d"${HTTP_DURATION}s" --latency "${script[@]}" "http://127.0.0.1:$1$3" || return 0
  c1="$(proc_cpu "$2")"
  python3 "$BENCH/util.py" wrk "$out" >"$out.kv"
  rps="$(kv rps <"$out.kv")"; p99="$(kv p99_ms <"$out.kv")"; reqs="$(kv requests <"$out.kv")"
  errs="$(kv socket_errors <"$out.kv")$(kv non_2xx <"$out.kv")"
  [[ -z "$errs" ]] || warn "wrk against port $1 $3: socket errors / non-2xx: $errs"
  [[ -n "$c0" && -n "$c1" && "${reqs:-0}" -gt 0 ]] && per="$(calc "($c1 - $c0) * 1e6 / $reqs")"
  if [[ -n "$rps" && -n "$p99" ]]; then echo "$rps $p99 $per"; fi
}

# 15. HC3 API server: `wrk -t1 -c50 -d${HTTP_DURATION}s` on GET /api/devices/5555,
#     GET /api/refreshStates?last=0 (events exist, so it answers at once) and
#     POST /api/devices/5555/action/turnOn {"args":[]} against `plua --fibaro -o` and the
#     original plua 1.3.16 (`--fibaro --api-port P`), one QA each, in one run. One wrk run
#     per route and server (the original is slow enough that more runs add nothing). The QA
#     sets an interval: the original ends a run with nothing scheduled, server or not. The
#     original answers refreshStates 501 (wrk warns about non-2xx answers).
bench_api() {
  local qa="$TMP/qa_api.lua" orig="${ORIG_PLUA:-$ROOT/target/plua-orig/bin/plua}" post="$TMP/post.lua"
  printf '%s\n' '--%%name:Bench' '--%%offline:true' \
    'function QuickApp:onInit() self:debug("onInit") setInterval(function() end, 1000) end' \
    'function QuickApp:turnOn() self:updateProperty("value", true) end' >"$qa"
  printf '%s\n' 'wrk.method = "POST"' 'wrk.body = "{\"args\":[]}"' \
    'wrk.headers["Content-Type"] = "application/json"' >"$post"
  local ports=("" "") pids=("" "") j r v q c route p
  ports[0]="$(python3 "$BENCH/util.py" free-port)"
  start_api plua-api "${ports[0]}" "$PLUA" --fibaro -o --port "${ports[0]}" "$qa" || ports[0]=""
  pids[0]="$(child_pid "${SERVER_PIDS[-1]:-}")"
  if [[ -x "$orig" ]]; then
    ports[1]="$(python3 "$BENCH/util.py" free-port)"
    start_api orig-api "${ports[1]}" "$orig" --fibaro --api-port "${ports[1]}" "$qa" || ports[1]=""
    pids[1]="$(child_pid "${SERVER_PIDS[-1]:-}")"
  fi
  local -A res=()
  for route in device refresh post; do
    for j in 0 1; do
      [[ -n "${ports[j]}" ]] || continue
      case "$route" in
        device) r="$(wrk_api "${ports[j]}" "${pids[j]}" /api/devices/5555)" ;;
        refresh) r="$(wrk_api "${ports[j]}" "${pids[j]}" "/api/refreshStates?last=0")" ;;
        post) r="$(wrk_api "${ports[j]}" "${pids[j]}" /api/devices/5555/action/turnOn "$post")" ;;
      esac
      [[ -n "$r" ]] && res[$route$j]="$r"
    done
  done
  stop_servers
  local name what ok
  for route in device refresh post; do
    case "$route" in
      device) what="GET /api/devices/5555" ;;
      refresh) what="GET /api/refreshStates?last=0" ;;
      post) what="POST /api/devices/5555/action/turnOn" ;;
    esac
    local pv="" pq="" pc="" ov="" oq="" oc=""
    [[ -n "${res[${route}0]:-}" ]] && read -r pv pq pc <<<"${res[${route}0]}"
    [[ -n "${res[${route}1]:-}" ]] && read -r ov oq oc <<<"${res[${route}1]}"
    [[ "$pc" == "-" ]] && pc=""; [[ "$oc" == "-" ]] && oc=""
    ok=""
    [[ "$route" == device ]] && ok=" (target >= 50k req/s, p99 < 5 ms) $(verdict "$(or_bad "$pv") >= 50000 && $(or_bad "$pq") < 5")"
    say "[15] API $what  plua $(fmt "%.0f req/s" "$pv"), p99 $(fmt "%.2f ms" "$pq"), $(fmt "%.2f us" "$pc") CPU/request |" \
        "plua 1.3.16 $(fmt "%.0f req/s" "$ov"), p99 $(fmt "%.1f ms" "$oq"), $(fmt "%.0f us" "$oc") CPU/request$ok"
    ROWS+=("| HC3 API server, \`wrk -t1 -c50\` on \`$what\`: requests/s / p99 / server CPU per request | $(fmt "%.1f k/s" "$(kilo "$pv")") / $(fmt "%.2f ms" "$pq") / $(fmt "%.1f µs" "$pc") | $(fmt "%.0f/s" "$ov") / $(fmt "%.0f ms" "$oq") / $(fmt "%.0f µs" "$oc") (plua 1.3.16) | ${ok:- lower CPU is better} |")
  done
}

# 17. Static files: `wrk -t1 -c50` on one 4 KiB file served by plua (`server:static`,
#     static_server.lua) and by nginx (one worker, `root`, sendfile on, as Debian ships it),
#     alternating $HTTP_RUNS runs each; medians of requests/s, p99 and server CPU per request.
bench_static() {
  local site="$TMP/static" ports=("" "") pids=("" "") i j r v q c
  local pr=() pl=() pc=() nr=() nl=() nc=()
  mkdir -p "$site"
  head -c 4096 /dev/urandom >"$site/file.bin"
  start_server plua-static "$PLUA" "$BENCH/static_server.lua" "$site" && ports[0]="$SERVER_PORT"
  pids[0]="${SERVER_PIDS[-1]:-}"
  chmod 755 "$TMP" "$site"; chmod 644 "$site/file.bin" # the nginx worker runs as nobody
  START_NGINX_LOCATION="root $site;" start_nginx && ports[1]="$SERVER_PORT"
  pids[1]="${SERVER_PIDS[-1]:-}"
  for j in 0 1; do
    if [[ -n "${ports[j]}" ]]; then
      run_kv "$TMP/wrk.out" wrk -t1 -c50 -d1s "http://127.0.0.1:${ports[j]}/file.bin" || ports[j]=""
    fi
    pids[j]="$(child_pid "${pids[j]}")"
  done
  pids[1]="$(child_pid "${pids[1]}")"    # nginx: master -> its one worker
  for ((i = 1; i <= HTTP_RUNS; i++)); do
    for j in 0 1; do
      [[ -n "${ports[j]}" ]] || continue
      r="$(wrk_api "${ports[j]}" "${pids[j]}" /file.bin)"
      if [[ -z "$r" ]]; then ports[j]=""; continue; fi
      read -r v q c <<<"$r"
      [[ "$c" == "-" ]] && c=""
      case "$j" in
        0) pr+=("$v"); pl+=("$q"); pc+=("$c") ;;
        1) nr+=("$v"); nl+=("$q"); nc+=("$c") ;;
      esac
    done
  done
  stop_servers
  local p_rps="" p_p99="" p_cpu="" n_rps="" n_p99="" n_cpu="" share="" ok
  if ((${#pr[@]})); then p_rps="$(median "${pr[@]}")"; p_p99="$(median "${pl[@]}")"; p_cpu="$(median "${pc[@]}")"; fi
  if ((${#nr[@]})); then n_rps="$(median "${nr[@]}")"; n_p99="$(median "${nl[@]}")"; n_cpu="$(median "${nc[@]}")"; fi
  [[ -n "$p_rps" && -n "$n_rps" ]] && share="$(calc "$p_rps / $n_rps * 100")"
  ok="$(verdict "$(or_bad "$p_rps") >= 0.7 * $(or_bad "$n_rps")")"
  say "[17] static 4 KiB    plua $(fmt "%.0f req/s" "$p_rps"), p99 $(fmt "%.2f ms" "$p_p99"), $(fmt "%.2f us" "$p_cpu") CPU/request (runs: ${pr[*]:-none})" \
      "| nginx $(fmt "%.0f req/s" "$n_rps"), p99 $(fmt "%.2f ms" "$n_p99"), $(fmt "%.2f us" "$n_cpu") CPU/request (runs: ${nr[*]:-none});" \
      "plua at $(fmt "%.0f%%" "$share") of nginx (target >= 70%) $ok"
  ROWS+=("| Static file, 4 KiB, \`wrk -t1 -c50 -d${HTTP_DURATION}s\`: requests/s / p99 / server CPU per request | $(fmt "%.1f k/s" "$(kilo "$p_rps")") / $(fmt "%.2f ms" "$p_p99") / $(fmt "%.2f µs" "$p_cpu") | $(fmt "%.1f k/s" "$(kilo "$n_rps")") / $(fmt "%.2f ms" "$n_p99") / $(fmt "%.2f µs" "$n_cpu") (nginx, 1 worker, sendfile) | ≥ 70 % of nginx: $(fmt "%.0f%%" "$share") $ok |")
}

print_table() {
  local cpu node_v="" plua_v luv_v nginx_v wrk_v ws_v
  cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)"
  plua_v="$("$PLUA" --version 2>/dev/null | head -n 1 || true)"
  [[ -n "$NODE" ]] && node_v="$("$NODE" --version 2>/dev/null || true)"
  luv_v="$("$LUA" -e 'io.write(require("luv").version_string())' 2>/dev/null || true)"
  nginx_v="$("$NGINX" -v 2>&1 | sed -n 's|^nginx version: nginx/||p')"
  wrk_v="$(dpkg-query -W -f '${Version}' wrk 2>/dev/null || true)"
  ws_v="$("$WS_PYTHON" -c 'import websockets; print(websockets.__version__)' 2>/dev/null || true)"
  say ""
  say "| what | plua | anchor | target |"
  say "|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  say ""
  say "Measured $(date -u +%Y-%m-%d) with scripts/bench.sh on ${cpu:-unknown CPU}, $(nproc) cores;" \
      "${plua_v:-plua}, $("$LUA" -v 2>&1 | cut -d' ' -f1-2), node ${node_v:-n/a}, lua-luv" \
      "${luv_v:-n/a}, nginx ${nginx_v:-n/a} + libnginx-mod-http-lua, wrk ${wrk_v:-n/a}," \
      "Python websockets ${ws_v:-n/a} ($("$WS_PYTHON" -V 2>&1));" \
      "timer and TCP figures are medians of $REPEAT runs, HTTP of $HTTP_RUNS wrk runs," \
      "WebSocket of $WS_RUNS ws_load runs of $WS_SECONDS s," \
      "TCP, HTTP and WebSocket over 127.0.0.1."
}

main() {
  ensure_tools
  build_plua
  say "plua: $PLUA"
  local start=$SECONDS
  if (($#)); then                      # scripts/bench.sh NAME...: only bench_NAME figures
    local name
    for name in "$@"; do "bench_$name"; done
    print_table
    return
  fi
  bench_startup
  bench_rss
  bench_throughput
  bench_concurrent
  bench_idle
  bench_tcp_echo
  bench_tcp_bulk
  bench_http
  bench_slowloris
  bench_http_client
  bench_ws_echo
  bench_quickapp
  bench_api
  bench_static
  bench_alive
  warn "measuring took $((SECONDS - start)) s (build excluded)"
  print_table
}

main "$@"
