-- Minimal timer shim to sanity-check the bench scripts under plain lua5.4 (no plua needed):
--   lua5.4 scripts/bench/shim.lua scripts/bench/timers_throughput.lua 1000
-- Defines setTimeout/clearTimeout/setInterval/clearInterval on a binary heap ordered by
-- (deadline, sequence), runs the script, then runs the timers, busy-waiting on os.clock()
-- (CPU seconds) until each deadline. Only for checking the scripts parse and print the
-- expected keys; its numbers mean nothing.

local heap, seq, cancelled = {}, 0, {}
local now = os.clock

local function less(a, b)
  return a.at < b.at or (a.at == b.at and a.id < b.id)
end

local function push(t)
  heap[#heap + 1] = t
  local i = #heap
  while i > 1 do
    local p = i // 2
    if less(heap[i], heap[p]) then heap[i], heap[p] = heap[p], heap[i]; i = p else break end
  end
end

local function pop()
  local top, last = heap[1], heap[#heap]
  heap[#heap] = nil
  if #heap > 0 then
    heap[1] = last
    local i, n = 1, #heap
    while true do
      local l, r, m = 2 * i, 2 * i + 1, i
      if l <= n and less(heap[l], heap[m]) then m = l end
      if r <= n and less(heap[r], heap[m]) then m = r end
      if m == i then break end
      heap[i], heap[m] = heap[m], heap[i]; i = m
    end
  end
  return top
end

local function add(fn, ms, period, ...)
  seq = seq + 1
  ms = math.max(tonumber(ms) or 0, 0)
  push({ id = seq, at = now() + ms / 1000, fn = fn, period = period and ms or nil,
         args = table.pack(...) })
  return seq
end

function setTimeout(fn, ms, ...) return add(fn, ms, false, ...) end
function setInterval(fn, ms, ...) return add(fn, ms, true, ...) end
function clearTimeout(id) if id then cancelled[id] = true end return id ~= nil end
clearInterval = clearTimeout

local script = assert(arg[1], "usage: lua5.4 shim.lua script.lua [args...]")
local chunk = assert(loadfile(script))
local args = table.move(arg, 2, #arg, 1, {})
arg = { [0] = script, table.unpack(args) }
chunk(table.unpack(args))

while #heap > 0 do
  local t = pop()
  if not cancelled[t.id] then
    while now() < t.at do end
    t.fn(table.unpack(t.args, 1, t.args.n))
    if t.period and not cancelled[t.id] then
      t.at = t.at + math.max(t.period, 1) / 1000
      push(t)
    end
  end
end
