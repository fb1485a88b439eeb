#!/usr/bin/env bash
# What the debugger costs when it is off (issue 14): the same source built twice, as shipped
# and with `--cfg plua_no_task_hook` (the one seam where the runtime would install the
# debugger's hook in a task coroutine compiled out), compared on
#   1. instructions per timer callback: 200,000 `setTimeout(fn, 0)` under callgrind (exact:
#      the difference is the seam's cost, free of machine noise);
#   2. instructions per HTTP request: 4,000 keep-alive GETs to the hello server under
#      callgrind (from a Python client, 2,000 and 6,000 requests, the difference divided);
#   3. `setTimeout(fn, 0)` throughput, 5 alternating runs each, medians (wall clock; noisy
#      on a shared machine, shown for scale).
# Usage: scripts/debugger_cost.sh   (needs valgrind, python3; builds into target/ and
# target/no-hook/)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
command -v valgrind >/dev/null || { echo "debugger_cost: valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "building: cargo build --release (as shipped), and with --cfg plua_no_task_hook" >&2
cargo build --release -q
RUSTFLAGS="--cfg plua_no_task_hook" cargo build --release -q --target-dir target/no-hook
WITH="$ROOT/target/release/plua"
WITHOUT="$ROOT/target/no-hook/release/plua"

# instructions BIN ARGS...: callgrind's total instruction count of one run.
instructions() {
  local out="$TMP/cg.out"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>"$TMP/cg.err"
  sed -n 's/^summary: //p' "$out"
}

# timer_instructions BIN N: instructions of N setTimeout(fn, 0) callbacks.
timer_instructions() {
  instructions "$1" scripts/bench/timers_throughput.lua "$2"
}

# http_instructions BIN N: instructions of a hello server answering N keep-alive GETs.
http_instructions() {
  local out="$TMP/cg-http.out" port="" pid i
  valgrind --tool=callgrind --callgrind-out-file="$out" "$1" scripts/bench/http_hello.lua \
    >"$TMP/port" 2>"$TMP/http.err" &
  pid=$!
  for ((i = 0; i < 300; i++)); do
    port="$(sed -n 's/^port=//p' "$TMP/port")"
    [[ -n "$port" ]] && break
    sleep 0.1
  done
  python3 - "$port" "$2" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=60)
for _ in range(int(sys.argv[2])):
    c.request("GET", "/")
    c.getresponse().read()
PY
  kill -TERM "$pid"
  wait "$pid" || true
  sed -n 's/^summary: //p' "$out"
}

per() { python3 -c "import sys; a,b,n=map(float,sys.argv[1:]); print(f'{(b-a)/n:.1f}')" "$@"; }

declare -A timer http rate
for build in with without; do
  bin="$WITH"; [[ "$build" == without ]] && bin="$WITHOUT"
  small="$(timer_instructions "$bin" 100000)"; big="$(timer_instructions "$bin" 300000)"
  timer[$build]="$(per "$small" "$big" 200000)"
  small="$(http_instructions "$bin" 2000)"; big="$(http_instructions "$bin" 6000)"
  http[$build]="$(per "$small" "$big" 4000)"
done
runs_with=(); runs_without=()
for _ in 1 2 3 4 5; do
  runs_with+=("$("$WITH" scripts/bench/timers_throughput.lua | sed -n 's/^callbacks_per_sec=//p')")
  runs_without+=("$("$WITHOUT" scripts/bench/timers_throughput.lua | sed -n 's/^callbacks_per_sec=//p')")
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
rate[with]="$(median "${runs_with[@]}")"; rate[without]="$(median "${runs_without[@]}")"

echo
echo "| figure | as shipped (debugger off) | seam compiled out | difference |"
echo "|---|---|---|---|"
echo "| instructions per \`setTimeout(fn, 0)\` callback (callgrind) | ${timer[with]} | ${timer[without]} | $(python3 -c "print(f'{${timer[with]} - ${timer[without]}:+.1f}')") |"
echo "| instructions per HTTP hello request (callgrind) | ${http[with]} | ${http[without]} | $(python3 -c "print(f'{${http[with]} - ${http[without]}:+.1f}')") |"
echo "| \`setTimeout(fn, 0)\` callbacks/s, median of 5 | ${rate[with]} | ${rate[without]} | $(python3 -c "print(f'{(${rate[with]} / ${rate[without]} - 1) * 100:+.1f} %')") |"
