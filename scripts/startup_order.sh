#!/usr/bin/env bash
# Writes src/startup.order: the functions of the plua binary that start-up, an empty run and one
# timer callback execute, in the order callgrind first sees them. build.rs hands the file to the
# linker (`--symbol-ordering-file`), which places those functions together at the front of .text,
# so the few hundred KB of code every run touches sit in a few contiguous pages instead of being
# spread over the 3.4 MB text segment (the kernel maps 64 KB around each page fault: scattered
# hot code pulls in about three times its size). Rerun after large changes to start-up code;
# stale entries are harmless (the linker skips names it does not find, and they just stop
# helping).
#
# Usage: scripts/startup_order.sh   (needs valgrind and python3; takes one release build)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
command -v valgrind >/dev/null || { echo "startup_order.sh: needs valgrind" >&2; exit 1; }

# Same profile and flags as a normal release build, so the symbol names (which carry the
# crates' build hashes) are the release binary's; PLUA_KEEP_SYMBOLS only skips the strip.
PLUA_KEEP_SYMBOLS=1 cargo build --release --target-dir target/startup-order >&2
BIN="$ROOT/target/startup-order/release/plua"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
valgrind -q --tool=callgrind --demangle=no --callgrind-out-file="$TMP/empty.cg" "$BIN" -e '' >&2
valgrind -q --tool=callgrind --demangle=no --callgrind-out-file="$TMP/timer.cg" "$BIN" \
  -e 'setTimeout(function() print("tick") end, 0)' >/dev/null

python3 - "$BIN" "$TMP/empty.cg" "$TMP/timer.cg" >"$ROOT/src/startup.order" <<'PY'
import re, sys
binary, *profiles = sys.argv[1:]
seen, order = set(), []
for profile in profiles:
    objects, names, current = {}, {}, None
    for line in open(profile):
        m = re.match(r'^(c?ob)=\((\d+)\)(?: (.*))?$', line.rstrip('\n'))
        if m:
            kind, key, name = m.groups()
            if name:
                objects[key] = name
            if kind == 'ob':
                current = objects.get(key)
            continue
        m = re.match(r'^(c?fn)=\((\d+)\)(?: (.*))?$', line.rstrip('\n'))
        if m:
            kind, key, name = m.groups()
            if name:
                names[key] = name
            if kind == 'fn' and current == binary and names[key] not in seen:
                seen.add(names[key])
                order.append(names[key])
print('\n'.join(order))
PY
echo "src/startup.order: $(wc -l <"$ROOT/src/startup.order") functions" >&2
