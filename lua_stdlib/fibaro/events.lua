-- fibaro.events: the hub's refresh-state events. A ring of the last 1000 events in the shapes
-- a real HC3 reports (`DevicePropertyUpdatedEvent`, `GlobalVariableChangedEvent`,
-- `CustomEvent`, `DeviceCreatedEvent`, `DeviceRemovedEvent`, ...), read as
-- `/api/refreshStates?last=N` (`{status, events, changes, timestamp, timestampMillis, last}`),
-- and handed to in-process subscribers (`RefreshStateSubscriber`) on a later turn of the loop.

local clock = require("fibaro.clock")

local M = {}

local RING = 1000
local ring = {} -- sequence number -> event
local last = 0 -- sequence number of the newest event
local subscribers = {} -- key -> function(event)

--- Adds an event `{type = ..., data = {...}}` and returns its sequence number.
function M.add(event)
  last = last + 1
  local now = clock.now()
  event.created = event.created or math.floor(now)
  event.timestamp = event.timestamp or event.created
  ring[last] = event
  ring[last - RING] = nil
  for _, notify in pairs(subscribers) do
    setTimeout(notify, 0, event)
  end
  return last
end

--- The refreshStates answer for events newer than `since`.
function M.since(since)
  since = tonumber(since) or 0
  local events = {}
  local first = math.max(since + 1, last - RING + 1)
  for n = first, last do
    events[#events + 1] = ring[n]
  end
  local changes = {}
  for _, event in ipairs(events) do
    if event.type == "DevicePropertyUpdatedEvent" then
      local data = event.data
      changes[#changes + 1] = { id = data.id, [data.property] = data.newValue }
    end
  end
  local now = clock.now()
  return {
    status = "IDLE",
    events = events,
    changes = changes,
    timestamp = math.floor(now),
    timestampMillis = math.floor(now * 1000),
    last = last,
  }
end

--- The sequence number of the newest event.
function M.last()
  return last
end

--- Calls `notify(event)` for every later event; returns a key for `unsubscribe`.
function M.subscribe(notify)
  local key = {}
  subscribers[key] = notify
  return key
end

function M.unsubscribe(key)
  subscribers[key] = nil
end

--- A `DevicePropertyUpdatedEvent`.
function M.property_updated(id, property, new, old)
  return M.add({
    type = "DevicePropertyUpdatedEvent",
    data = { id = id, property = property, newValue = new, oldValue = old },
  })
end

return M
