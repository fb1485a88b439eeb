-- 100,000 concurrent timers with random deadlines.
--
-- Schedules N (default 100,000) one-shot timers, each with a delay drawn from
-- math.random(0, 1000) ms with a fixed seed, so every run uses the same deadlines.
-- Reports the time from before the first setTimeout until the last callback ran
-- (drain_seconds) and the largest delay drawn (max_deadline_ms); bench.sh reports
-- overhead = drain - max_deadline. Each callback also records how late it fired against
-- its own deadline (schedule time + delay), giving mean and max lateness.
--
-- Usage: plua timers_concurrent.lua [N]
-- Clock: _PY.get_time() (wall clock) when present, else os.clock().

local N = math.tointeger(tonumber(arg and arg[1] or nil)) or 100000
local MAX_DELAY_MS = 1000
local now = (type(_PY) == "table" and _PY.get_time) or os.clock
local clock_name = (now == os.clock) and "os.clock" or "_PY.get_time"

math.randomseed(20240601)

local count = 0
local late_sum, late_max = 0.0, 0.0
local max_deadline_ms = 0
local t0, t_scheduled

local function cb(deadline)
  local t = now()
  local late = t - deadline
  late_sum = late_sum + late
  if late > late_max then late_max = late end
  count = count + 1
  if count == N then
    local drain = t - t0
    print("clock=" .. clock_name)
    print("timers=" .. N)
    print(string.format("schedule_seconds=%.6f", t_scheduled - t0))
    print(string.format("drain_seconds=%.6f", drain))
    print("max_deadline_ms=" .. max_deadline_ms)
    print(string.format("overhead_ms=%.3f", drain * 1000 - max_deadline_ms))
    print(string.format("late_mean_ms=%.3f", late_sum / N * 1000))
    print(string.format("late_max_ms=%.3f", late_max * 1000))
  end
end

t0 = now()
for _ = 1, N do
  local d = math.random(0, MAX_DELAY_MS)
  if d > max_deadline_ms then max_deadline_ms = d end
  setTimeout(cb, d, now() + d / 1000)
end
t_scheduled = now()
