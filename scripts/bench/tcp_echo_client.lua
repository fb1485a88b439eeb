-- TCP echo round-trip client for scripts/bench.sh (figures 6 and 8).
--
-- One connection, strict ping-pong: write a 64-byte message, wait until all 64 bytes have come
-- back, write the next one. N round trips (default 100,000); the clock runs from just before
-- the first write to the arrival of the last reply (connect time excluded).
--
-- Usage: plua tcp_echo_client.lua HOST PORT [N] [STYLE]
--   STYLE "cb" (default): callback chain, tcp_write(id, msg) without a callback, then
--     tcp_read(id, 64, cb) accumulating until 64 bytes have arrived, then the next write.
--   STYLE "sync": tcp_write_sync + tcp_read_sync(id, 64) in the main coroutine.
-- Both were measured, interleaved, against the plua and the luv echo servers: "cb" was the
-- faster (about 40k vs 36k round trips/s against the plua server, equal against luv), so it is
-- the default: it waits once per round trip (the read), while "sync" also waits for the write
-- completion, i.e. one more task resume and loop turn per round trip.
-- Prints key=value lines; bench.sh reads `roundtrips_per_sec`.

local host = arg and arg[1] or "127.0.0.1"
local port = math.tointeger(tonumber(arg and arg[2] or nil))
local N = math.tointeger(tonumber(arg and arg[3] or nil)) or 100000
local style = arg and arg[4] or "cb"
local SIZE = 64
assert(port, "usage: tcp_echo_client.lua HOST PORT [N] [cb|sync]")

local msg = string.rep("x", SIZE - 1) .. "\n"
local now = _PY.get_time

local function fail(...)
  io.stderr:write("tcp_echo_client: ", table.concat({ ... }, " "), "\n")
  os.exit(1)
end

local function report(t0, t1)
  local total = t1 - t0
  print("style=" .. style)
  print("roundtrips=" .. N)
  print("message_bytes=" .. SIZE)
  print(string.format("total_seconds=%.6f", total))
  print(string.format("roundtrips_per_sec=%.0f", N / total))
end

local ok, id, message = _PY.tcp_connect_sync(host, port, { timeout = 10 })
if not ok then fail("connect:", tostring(message)) end

if style == "sync" then
  local write, read = _PY.tcp_write_sync, _PY.tcp_read_sync
  local t0 = now()
  for _ = 1, N do
    local wok, _, werr = write(id, msg)
    if not wok then fail("write:", tostring(werr)) end
    local rok, data, rerr = read(id, SIZE)
    if not rok then fail("read:", tostring(rerr)) end
    if #data ~= SIZE then fail("short read:", #data) end
  end
  report(t0, now())
  _PY.tcp_close_sync(id)
elseif style == "cb" then
  local write, read = _PY.tcp_write, _PY.tcp_read
  local done, got, t0 = 0, 0, nil
  local on_read
  local function ping()
    write(id, msg)                     -- write result not awaited: the reply proves it was sent
    read(id, SIZE, on_read)
  end
  on_read = function(rok, data, rerr)
    if not rok then fail("read:", tostring(rerr)) end
    got = got + #data
    if got < SIZE then
      read(id, SIZE - got, on_read)
      return
    end
    got = 0
    done = done + 1
    if done == N then
      report(t0, now())
      _PY.tcp_close(id)
    else
      ping()
    end
  end
  t0 = now()
  ping()
else
  fail("unknown style '" .. style .. "' (cb or sync)")
end
