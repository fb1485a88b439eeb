-- fibaro.api_ws: `WS /ws/quickapps` of the API server. Every `updateView` (the hub's
-- `PluginChangedViewEvent`) and `updateProperty` (`DevicePropertyUpdatedEvent`) is pushed to
-- every client as `{"type":"ui_update","deviceID":N,...}`; other refresh-state events go out
-- as `{"type":"event","event":{...}}` (the web UI's event log). With Basic auth configured,
-- a client whose upgrade request lacks the right `Authorization` header is closed (1008).

local events = require("fibaro.events")

local M = {}

local to_json = _PY.to_json

--- The message for `event`, or nil for none.
function M.message(event)
  local data = event.data or {}
  if event.type == "PluginChangedViewEvent" then
    return {
      type = "ui_update",
      kind = "view",
      deviceID = data.deviceId,
      elementName = data.componentName,
      propertyName = data.propertyName,
      newValue = data.newValue,
    }
  elseif event.type == "DevicePropertyUpdatedEvent" then
    return {
      type = "ui_update",
      kind = "property",
      deviceID = data.id,
      propertyName = data.property,
      newValue = data.newValue,
    }
  end
  return { type = "event", event = event }
end

--- Creates the WebSocket server for `server` (attached to its HTTP port by the caller);
--- returns `{sid, count(), stop()}`.
function M.start(server)
  local sid = _PY.websocket_server_create()
  local clients = 0
  _PY.websocket_server_add_event_listener(sid, "client_connected", function(client, request)
    local headers = request and request.headers or {}
    if server.auth and headers.authorization ~= server.auth then
      _PY.websocket_server_disconnect(sid, client, 1008, "authentication required")
      return
    end
    clients = clients + 1
    _PY.websocket_server_send(sid, client, to_json({ type = "hello", lastEvent = events.last() }))
  end)
  _PY.websocket_server_add_event_listener(sid, "client_disconnected", function()
    clients = math.max(0, clients - 1)
  end)
  _PY.websocket_server_add_event_listener(sid, "error", function() end)
  local key = events.subscribe(function(event)
    if clients > 0 then
      local message = M.message(event)
      local ok, text = pcall(to_json, message)
      if ok then
        _PY.websocket_server_broadcast(sid, text)
      end
    end
  end)
  return {
    sid = sid,
    count = function()
      return clients
    end,
    stop = function()
      events.unsubscribe(key)
      _PY.websocket_server_close(sid)
    end,
  }
end

return M
