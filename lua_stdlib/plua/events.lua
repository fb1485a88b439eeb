-- plua.events: the original's HC3 event queue (SPEC 4, "HC3 events"), the source of the
-- emulator's `/api/refreshStates`. Events go into a ring of the last 1000, each numbered by a
-- counter; `getEvents(since)` answers in the shape of a real HC3's refreshStates.
--
--   _PY.addEvent(event | json)          -> { status = "added", event_count = n }
--   _PY.addEventFromLua(json)           -> the same, from a JSON string
--   _PY.getEvents(since = 0)            -> { status = "IDLE", events = {...}, changes = {},
--                                            timestamp, timestampMillis, date, last }
--   _PY.pollRefreshStates(start, url, opts) -> { status = "started" }: polls an HC3's
--       refreshStates (`url .. last`, `opts.headers`), adding its events, once a second
--   _PY.stopRefreshStates()              -> true if polling was running
--   _PY.getRefreshStatesStatus()         -> { running, url, start, last }
--
-- A script that defines `_PY.newRefreshStatesEvent(json)` is told about each added event.

local M = {}

local MAX_EVENTS = 1000

function M.install(PY)
  local ring, first, count = {}, 1, 0 -- ring[first .. first + size - 1] hold { last, event }
  local size = 0
  local polling = nil -- { url, start, last, stop }

  local raise = require("plua.checks").raise

  local function add(event)
    count = count + 1
    if size == MAX_EVENTS then
      ring[first] = nil
      first = first + 1
    else
      size = size + 1
    end
    ring[first + size - 1] = { last = count, event = event }
    local hook = rawget(PY, "newRefreshStatesEvent")
    if type(hook) == "function" then
      pcall(hook, PY.to_json(event))
    end
    return { status = "added", event_count = count }
  end

  function PY.addEvent(event)
    if type(event) == "string" then
      local decoded, message = PY.parse_json(event)
      if decoded == nil then
        return { status = "error", error = tostring(message) }
      end
      event = decoded
    elseif type(event) ~= "table" then
      raise(("addEvent: bad argument #1 (table or JSON string expected, got %s)"):format(type(event)))
    end
    return add(event)
  end

  function PY.addEventFromLua(json)
    if type(json) ~= "string" then
      raise(("addEventFromLua: bad argument #1 (JSON string expected, got %s)"):format(type(json)))
    end
    return PY.addEvent(json)
  end

  function PY.getEvents(since)
    if since ~= nil and type(since) ~= "number" then
      raise(("getEvents: bad argument #1 (number expected, got %s)"):format(type(since)))
    end
    since = since or 0
    local events = {}
    for i = first, first + size - 1 do
      local entry = ring[i]
      if entry.last > since then
        events[#events + 1] = entry.event
      end
    end
    local now = PY.get_time()
    return {
      status = "IDLE",
      events = events,
      changes = {},
      timestamp = math.floor(now),
      timestampMillis = math.floor(now * 1000),
      date = os.date("%H:%M | %d.%m.%Y", math.floor(now)),
      last = count,
    }
  end

  function PY.stopRefreshStates()
    if not polling then
      return false
    end
    polling.stop = true
    polling = nil
    return true
  end

  function PY.getRefreshStatesStatus()
    if not polling then
      return { running = false }
    end
    return { running = true, url = polling.url, start = polling.start, last = polling.last }
  end

  -- Polls until stopped, a 401 (bad credentials) or more than 5 connection errors in a row.
  function PY.pollRefreshStates(start, url, opts)
    if type(url) ~= "string" then
      raise(("pollRefreshStates: bad argument #2 (url string expected, got %s)"):format(type(url)))
    end
    if opts ~= nil and type(opts) ~= "table" then
      raise(("pollRefreshStates: bad argument #3 (table expected, got %s)"):format(type(opts)))
    end
    PY.stopRefreshStates()
    local state = { url = url, start = tonumber(start) or 0, last = tonumber(start) or 0 }
    polling = state
    local headers = opts and opts.headers or {}
    local retries = 0
    local function poll()
      if state.stop then
        return
      end
      local request = { url = url .. tostring(state.last) .. "&lang=en&rand=7784634785", headers = headers, timeout = 30 }
      PY.http_request_async(request, function(response)
        if state.stop then
          return
        end
        if response.code == 200 then
          retries = 0
          local data = PY.parse_json(response.body)
          if type(data) == "table" then
            state.last = tonumber(data.last) or state.last
            if type(data.events) == "table" then
              for _, event in ipairs(data.events) do
                add(event)
              end
            end
          end
        elseif response.code == 401 then
          io.stderr:write("HC3 credentials error\nExiting refreshStates loop\n")
          if polling == state then
            polling = nil
          end
          return
        elseif response.code == 0 then
          retries = retries + 1
          if retries > 5 then
            io.stderr:write(("Connection error: %s\nExiting refreshStates loop\n"):format(url))
            if polling == state then
              polling = nil
            end
            return
          end
        end
        setTimeout(poll, 1000)
      end)
    end
    poll()
    return { status = "started" }
  end
end

return M
