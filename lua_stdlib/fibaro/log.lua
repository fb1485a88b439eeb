-- fibaro.log: the hub's console lines, `[dd.mm.yyyy][hh:mm:ss][TYPE   ][TAG]: message`.
-- Colour is HC3 markup (`<font color=...>`), which plua's print renders as ANSI colour on a
-- terminal and strips otherwise, so piped output and files stay plain.

local clock = require("fibaro.clock")

local M = {}

local tostring, concat, select = tostring, table.concat, select

local COLOURS = { DEBUG = "lightgreen", TRACE = "plum", WARNING = "darkorange", ERROR = "red" }

-- The arguments as the hub joins them: tostring of each, separated by a space.
function M.join(...)
  local n = select("#", ...)
  if n == 1 then
    return tostring((...))
  end
  local parts = { ... }
  for i = 1, n do
    parts[i] = tostring(parts[i])
  end
  return concat(parts, " ", 1, n)
end

--- One console line of `kind` (DEBUG, TRACE, WARNING, ERROR) for `tag`.
function M.line(kind, tag, message)
  local stamp = clock.date("[%d.%m.%Y][%H:%M:%S]")
  local label = ("%-7s"):format(kind)
  local colour = COLOURS[kind]
  if colour then
    label = ("<font color=%s>%s</font>"):format(colour, label)
  end
  return ("%s[%s][%s]: %s"):format(stamp, label, tostring(tag), message)
end

--- Prints one console line.
function M.write(kind, tag, ...)
  print(M.line(kind, tag, M.join(...)))
end

return M
