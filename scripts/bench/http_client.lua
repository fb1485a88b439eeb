-- HTTP client throughput for scripts/bench.sh: 1,000 sequential GETs (keep-alive, one pooled
-- connection), then 1,000 concurrent GETs, against the hello server at HOST:PORT.
-- Prints sequential_per_sec=<n> and concurrent_per_sec=<n>.
--
-- Usage: plua http_client.lua HOST PORT [N]

local host = arg[1] or "127.0.0.1"
local port = assert(math.tointeger(tonumber(arg[2])), "usage: http_client.lua HOST PORT [N]")
local N = math.tointeger(tonumber(arg[3])) or 1000
local url = ("http://%s:%d/"):format(host, port)
local now = _PY.get_time

local t0 = now()
for _ = 1, N do
  local response = _PY.http_request_sync(url)
  assert(response.code == 200, response.error_message)
end
print(("sequential_per_sec=%.0f"):format(N / (now() - t0)))

local done = 0
t0 = now()
for _ = 1, N do
  _PY.http_request_async(url, function(response)
    assert(response.code == 200, response.error_message)
    done = done + 1
    if done == N then
      print(("concurrent_per_sec=%.0f"):format(N / (now() - t0)))
    end
  end)
end
