-- examples/hello.lua: timers, an interval and a sleeping main chunk.
print("hello from plua", _VERSION)
setTimeout(function() print("one second later") end, 1000)
local n = 0
local id
id = setInterval(function()
  n = n + 1
  print("tick", n)
  if n == 3 then clearInterval(id) end
end, 300)
_PY.sleep(0.5)            -- suspends only the main chunk; the interval keeps ticking
print("main chunk done; the process exits when the timers are done")
