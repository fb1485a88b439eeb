-- Timer callback throughput.
--
-- Schedules N (default 1,000,000) `setTimeout(cb, 0)` callbacks in one go; `cb` only
-- increments a counter. The clock runs from just before the first setTimeout until the
-- callback that brings the counter to N, so the figure covers scheduling, the loop
-- turn(s) and every callback invocation.
--
-- Usage: plua timers_throughput.lua [N]
-- Prints key=value lines; bench.sh reads `callbacks_per_sec`.
-- Clock: _PY.get_time() (wall clock, float seconds) when the runtime has it, else
-- os.clock() so the script also runs under other runtimes (e.g. lua5.4 + shim.lua).

local N = math.tointeger(tonumber(arg and arg[1] or nil)) or 1000000
local now = (type(_PY) == "table" and _PY.get_time) or os.clock
local clock_name = (now == os.clock) and "os.clock" or "_PY.get_time"

local count = 0
local t0, t_scheduled

local function cb()
  count = count + 1
  if count == N then
    local t1 = now()
    local total = t1 - t0
    print("clock=" .. clock_name)
    print("callbacks=" .. N)
    print(string.format("schedule_seconds=%.6f", t_scheduled - t0))
    print(string.format("total_seconds=%.6f", total))
    print(string.format("callbacks_per_sec=%.0f", N / total))
  end
end

t0 = now()
for _ = 1, N do
  setTimeout(cb, 0)
end
t_scheduled = now()
