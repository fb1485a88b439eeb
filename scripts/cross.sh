#!/usr/bin/env bash
# Binaries for small boxes: a fully static x86_64-unknown-linux-musl plua (Debian's musl-tools),
# an aarch64-unknown-linux-gnu one (Debian's gcc-aarch64-linux-gnu) and, when it builds, a
# static aarch64-unknown-linux-musl one; then end-to-end smoke tests against each (the ARM ones
# under qemu-user) and their stripped sizes. Not part of CI (each fat-LTO build takes minutes).
#
#   scripts/cross.sh                          # all targets
#   scripts/cross.sh x86_64-unknown-linux-musl
#   CROSS_OPT_LEVEL=3 scripts/cross.sh        # speed over size (default z)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

install_missing() {
  local need=()
  command -v musl-gcc >/dev/null || need+=(musl-tools)
  command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
  command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
  command -v curl >/dev/null || need+=(curl)
  if ((${#need[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  fi
}

# Builds `$1` in release; prints the binary's path.
build() {
  local target=$1 upper
  upper=$(echo "$target" | tr 'a-z-' 'A-Z_')
  rustup target list --installed | grep -qx "$target" || rustup target add "$target" >&2
  case $target in
    x86_64-unknown-linux-musl)
      export CC_x86_64_unknown_linux_musl=musl-gcc
      # Static, not static-pie: no load-time relocations (smaller, faster start), as the glibc
      # build's -no-pie.
      export "CARGO_TARGET_${upper}_RUSTFLAGS=-C relocation-model=static" ;;
    aarch64-unknown-linux-gnu)
      export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
      export "CARGO_TARGET_${upper}_LINKER=aarch64-linux-gnu-gcc" ;;
    aarch64-unknown-linux-musl)
      # No aarch64 musl C toolchain in Debian: the C parts (Lua, ring) are compiled with the
      # glibc cross compiler and Rust's self-contained musl links them.
      # Lua's lprefix.h asks for 64-bit file offsets, which glibc's headers spell fopen64 and
      # friends; musl's off_t is 64-bit already and the plain functions are the same ones.
      # (At -Os glibc's headers inline no stdio internals, which would read musl's FILE wrong;
      # the smoke tests read and write files to check.)
      export CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc
      local alias flags="-C relocation-model=static"
      for alias in fopen freopen mkstemp fseeko ftello tmpfile; do
        flags+=" -C link-arg=--defsym=${alias}64=${alias}"
      done
      export "CARGO_TARGET_${upper}_RUSTFLAGS=$flags"
      export "CARGO_TARGET_${upper}_LINKER=rust-lld" ;;
  esac
  # Size over speed for the boxes (CROSS_OPT_LEVEL=3 for the native build's setting): opt-level
  # "z" keeps the static x86_64 binary under 4 MB stripped (3.92 MB; "s" gives 4.11 MB, 3 about
  # 5 MB).
  CARGO_PROFILE_RELEASE_OPT_LEVEL=${CROSS_OPT_LEVEL:-z} cargo build --release --target "$target" >&2 || return 1
  echo "$root/target/$target/release/plua"
}

# Runs the smoke tests with `$@` as the plua command; prints "ok" or the first failure.
smoke() {
  local dir port out
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  out=$("$@" -e 'print(_VERSION, 6 * 7)') && [[ $out == $'Lua 5.4\t42' ]] || { echo "FAIL version: $out"; return 1; }
  cat >"$dir/timers.lua" <<'LUA'
local order = {}
setTimeout(function() order[#order + 1] = "b" end, 20)
setTimeout(function() order[#order + 1] = "a" end, 5)
local n, id = 0, nil
id = setInterval(function() n = n + 1; if n == 3 then clearInterval(id) end end, 5)
setTimeout(function() print(table.concat(order), n, _PY.to_json({x = {1, 2}})) end, 100)
LUA
  out=$("$@" "$dir/timers.lua") && [[ $out == $'ab\t3\t{"x":[1,2]}' ]] || { echo "FAIL timers: $out"; return 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$dir/server.lua" <<LUA
local id = assert(_PY.http_server_start("127.0.0.1", $port, function(req)
  return 200, "hello " .. req.path
end))
setTimeout(function() _PY.http_server_stop(id) end, 4000)
LUA
  "$@" "$dir/server.lua" >"$dir/server.out" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/x" >/dev/null 2>&1 && break; sleep 0.05; done
  out=$(curl -s "http://127.0.0.1:$port/smoke")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [[ $out == "hello /smoke" ]] || { echo "FAIL http: $out $(cat "$dir/server.out")"; return 1; }
  printf -- '--%%%%name:Smoke\nfunction QuickApp:onInit() self:updateProperty("value", 7) print("QA", fibaro.getValue(self.id, "value")) end\n' >"$dir/qa.lua"
  out=$("$@" --fibaro --offline --no-api --run-for -1 "$dir/qa.lua" 2>&1) && [[ $out == *"QA 7"* ]] || { echo "FAIL quickapp: $out"; return 1; }
  out=$("$@" -e 'local p = os.tmpname(); local f = assert(io.open(p, "w")); for i = 1, 3000 do f:write(i, "\n") end; f:close()
    local n, sum = 0, 0; for line in io.lines(p) do n = n + 1; sum = sum + tonumber(line) end
    local g = assert(io.open(p)); g:seek("set", 5); local rest = g:read("a"); g:close(); os.remove(p)
    print(n, sum, #rest)') && [[ $out == $'3000\t4501500\t13888' ]] || { echo "FAIL files: $out"; return 1; }
  echo ok
}

install_missing
targets=("$@")
((${#targets[@]})) || targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-gnu aarch64-unknown-linux-musl)
printf '%-28s %10s %-40s %s\n' target stripped linking smoke
for target in "${targets[@]}"; do
  if ! bin=$(build "$target" 2>"/tmp/plua-cross-$target.log"); then
    printf '%-28s %10s %-40s %s\n' "$target" - "build failed" "see /tmp/plua-cross-$target.log"
    continue
  fi
  case $target in
    aarch64-unknown-linux-gnu) run=(qemu-aarch64 -L /usr/aarch64-linux-gnu "$bin") ;;
    aarch64-*) run=(qemu-aarch64 "$bin") ;;
    *) run=("$bin") ;;
  esac
  size=$(stat -c %s "$bin")
  linking=$(file -b "$bin" | grep -oE 'statically linked|static-pie linked|dynamically linked' || echo '?')
  result=$(smoke "${run[@]}" 2>&1 || true)
  printf '%-28s %10s %-40s %s\n' "$target" "$(awk -v s="$size" 'BEGIN{printf "%.2f MB", s/1e6}')" "$linking" "$result"
done
