#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz / libFuzzer, on the stable toolchain through
# RUSTC_BOOTSTRAP=1) of plua's parsers and Lua bridge: each target in fuzz/fuzz_targets runs for
# FUZZ_SECONDS (default 60) from its seeds (fuzz/seeds/<target>) plus the corpus it grew before
# (fuzz/corpus/<target>, not committed). Prints executions, time and crashes per target; a crash
# leaves its input in fuzz/artifacts/<target>/ and makes the script exit 1. Fix it, then keep
# the input under tests/fuzz_inputs/<target>/ (tests/fuzz_regressions.rs replays them).
#
#   scripts/fuzz.sh                      # every target, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh json_bridge
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-60}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
command -v c++ >/dev/null || { apt-get update -qq && apt-get install -y -qq g++; }

targets=("$@")
((${#targets[@]})) || targets=(http_request http_response json_bridge quickapp_files websocket_frames)
build_log=$(mktemp)
cargo fuzz build -O >"$build_log" 2>&1 || { cat "$build_log"; exit 1; }
rm -f "$build_log"
failed=0
printf '%-18s %12s %8s %10s %8s\n' target executions seconds exec/s crashes
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  extra=()
  # The QuickApp target keeps one Lua state for the whole run, with reference cycles between
  # Rust closures and Lua tables that are only freed at exit: not leaks per input.
  [[ $target == quickapp_files ]] && extra+=(-detect_leaks=0)
  log=$(mktemp)
  before=$(find "artifacts/$target" -type f | wc -l)
  status=0
  cargo fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "${extra[@]}" >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 \2/p' "$log" | tail -1)
  [[ -n $runs ]] || runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)/\1 ?/p' "$log" | tail -1)
  read -r execs took <<<"${runs:-0 0}"
  crashes=$(($(find "artifacts/$target" -type f | wc -l) - before))
  ((status == 0)) || ((crashes > 0)) || crashes=1
  rate=$([[ $took =~ ^[0-9]+$ ]] && ((took > 0)) && echo $((execs / took)) || echo -)
  printf '%-18s %12s %8s %10s %8s\n' "$target" "$execs" "$took" "$rate" "$crashes"
  if ((crashes)); then
    failed=1
    grep -m1 -A12 -E 'panicked|ERROR' "$log" | sed 's/^/    /'
  fi
  rm -f "$log"
done
exit $failed
