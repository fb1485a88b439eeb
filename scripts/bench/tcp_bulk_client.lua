-- TCP bulk throughput client for scripts/bench.sh (figure 7).
--
-- One connection to tcp_bulk_server.lua: sends the header `<bytes>\n`, then BYTES (default
-- 1 GiB) of payload in CHUNK-byte writes (default 256 KiB, the same string every time), then
-- waits for the server's "done" line, sent once it has counted every byte. The clock runs from
-- just before the first write to the arrival of "done" (connect time excluded), so it covers
-- the server's reading too, not only the kernel taking the bytes.
--
-- Usage: plua tcp_bulk_client.lua HOST PORT [BYTES] [CHUNK] [DEPTH]
--   DEPTH (default 1): how many writes may be in flight at once. 1 = tcp_write_sync one chunk
--   after the other; more keeps the send queue from running dry between a completion and the
--   next write (completions arrive on a later loop turn). 2 and 4 measured no faster than 1
--   (the receiving server is the bottleneck, the client idles ~80% of the time), so 1 it is.
-- Prints key=value lines; bench.sh reads `mb_per_sec` (1 MB = 10^6 bytes).

local host = arg and arg[1] or "127.0.0.1"
local port = math.tointeger(tonumber(arg and arg[2] or nil))
local BYTES = math.tointeger(tonumber(arg and arg[3] or nil)) or (1 << 30)
local CHUNK = math.tointeger(tonumber(arg and arg[4] or nil)) or (256 * 1024)
local DEPTH = math.tointeger(tonumber(arg and arg[5] or nil)) or 1
assert(port, "usage: tcp_bulk_client.lua HOST PORT [BYTES] [CHUNK] [DEPTH]")

local now = _PY.get_time
local function fail(...)
  io.stderr:write("tcp_bulk_client: ", table.concat({ ... }, " "), "\n")
  os.exit(1)
end

local ok, id, message = _PY.tcp_connect_sync(host, port, { timeout = 10 })
if not ok then fail("connect:", tostring(message)) end

local chunk = string.rep("z", CHUNK)
local chunks = BYTES // CHUNK
local tail = BYTES - chunks * CHUNK

local t0 = now()
local wok, _, werr = _PY.tcp_write_sync(id, BYTES .. "\n")
if not wok then fail("write:", tostring(werr)) end

if DEPTH <= 1 then
  for _ = 1, chunks do
    wok, _, werr = _PY.tcp_write_sync(id, chunk)
    if not wok then fail("write:", tostring(werr)) end
  end
else
  -- Keep DEPTH writes queued: each completion issues the next one; the main coroutine
  -- sleeps on a waiting read for "done" meanwhile.
  local issued = 0
  local on_written
  local function issue()
    issued = issued + 1
    _PY.tcp_write(id, chunk, on_written)
  end
  on_written = function(k, _, err)
    if not k then fail("write:", tostring(err)) end
    if issued < chunks then issue() end
  end
  for _ = 1, math.min(DEPTH, chunks) do issue() end
end
if tail > 0 then
  wok, _, werr = _PY.tcp_write_sync(id, string.rep("z", tail))
  if not wok then fail("write:", tostring(werr)) end
end

local rok, line, rerr = _PY.tcp_read_sync(id, "*l")
local t1 = now()
if not rok then fail("read:", tostring(rerr)) end
if line ~= "done" then fail("unexpected reply:", tostring(line)) end
local total = t1 - t0
print("bytes=" .. BYTES)
print("chunk_bytes=" .. CHUNK)
print("depth=" .. DEPTH)
print(string.format("total_seconds=%.6f", total))
print(string.format("mb_per_sec=%.1f", BYTES / total / 1e6))
_PY.tcp_close_sync(id)
