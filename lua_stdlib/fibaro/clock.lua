-- fibaro.clock: the time QuickApps see. At `--speed N` (or `--%%speed:N`) the emulated clock
-- runs N times faster than the real one: `os.time`, `os.date` and `os.clock` inside a QA, the
-- log's time stamps, and every QA timer and `fibaro.sleep` (their delays are divided by N),
-- so a 24-hour schedule can be tested in minutes. Sockets keep real time.

local M = { speed = 1 }

local real_time, real_date, real_clock = os.time, os.date, os.clock
local get_time = _PY.get_time

-- Emulated time = start + (real - start) * speed.
local started_real = get_time()
local started_emulated = started_real

--- Sets the speed factor (>= 1) from now on.
function M.set_speed(speed)
  speed = tonumber(speed) or 1
  if speed < 1 then
    speed = 1
  end
  started_emulated = M.now()
  started_real = get_time()
  M.speed = speed
end

--- Emulated seconds since the epoch, as a float.
function M.now()
  return started_emulated + (get_time() - started_real) * M.speed
end

--- `os.time` of the emulated clock (with a table argument: as the real one).
function M.time(t)
  if t ~= nil then
    return real_time(t)
  end
  return math.floor(M.now())
end

--- `os.date` of the emulated clock.
function M.date(format, t)
  return real_date(format, t or M.time())
end

--- `os.clock`: CPU time is not sped up, but a QA measuring with it expects the clock's pace.
function M.clock()
  return real_clock() * M.speed
end

--- A real delay in ms for an emulated delay in ms.
function M.real_ms(ms)
  if M.speed == 1 then
    return ms
  end
  return ms / M.speed
end

--- The `os` table a QA sees: the real one with the emulated clock.
function M.os_table()
  local qa_os = setmetatable({}, { __index = os })
  qa_os.time, qa_os.date, qa_os.clock = M.time, M.date, M.clock
  return qa_os
end

return M
