-- fibaro.subscriber: `RefreshStateSubscriber` inside a QuickApp, as on the hub:
-- `local s = RefreshStateSubscriber(); s:subscribe(filter, handler); s:run(); s:stop()`.
-- Each refresh-state event for which `filter(event)` is true reaches `handler(event)` on the
-- QA's queue (after the running handler, never re-entrantly).

local events = require("fibaro.events")

local M = {}

function M.install(env, qa)
  env.class("RefreshStateSubscriber")
  local Subscriber = env.RefreshStateSubscriber

  function Subscriber:__init()
    self.subscribers = {}
  end

  function Subscriber:subscribe(filter, handler)
    self.subscribers[#self.subscribers + 1] = { filter = filter, handler = handler }
    return #self.subscribers
  end

  function Subscriber:unsubscribe(key)
    self.subscribers[key] = false
  end

  function Subscriber:run()
    if self.key then
      return
    end
    self.key = events.subscribe(function(event)
      for _, entry in ipairs(self.subscribers) do
        if entry and entry.filter(event) then
          qa:post(entry.handler, event)
        end
      end
    end)
  end

  function Subscriber:stop()
    if self.key then
      events.unsubscribe(self.key)
      self.key = nil
    end
  end
end

return M
