-- fibaro.routes_devices: the REST routes of emulated devices, answered locally in every mode:
-- `/devices` (with filters), `/devices/{id}`, properties, actions (`/devices/{id}/action/{name}`,
-- `/callAction`), and the `/plugins/*` calls the QuickApp classes make (updateProperty,
-- updateView, callUIEvent, createChildDevice, removeChildDevice, interfaces, restart,
-- publishEvent, getView, variables = internalStorage), `/quickApp/{id}/files`, export.
-- Actions and UI events are queued to the device's QuickApp, never run re-entrantly.

local devices = require("fibaro.devices")
local events = require("fibaro.events")
local router = require("fibaro.router")

local M = {}

local printable, with_body = router.printable, router.with_body

local function not_found(what)
  return { type = "ERROR", reason = printable(what) .. " not found" }, 404
end


local function device_or_404(id)
  local record = devices.get(id)
  if not record then
    return nil, not_found(("device %s"):format(tostring(id)))
  end
  return record
end

-- Queues action `name` with `args` for device `id` on its QuickApp.
local function dispatch_action(id, name, args)
  local record = devices.get(id)
  if not record then
    return not_found(("device %s"):format(tostring(id)))
  end
  local qa = devices.qa_of(id)
  if not qa then
    return { type = "ERROR", reason = ("device %d is not a QuickApp"):format(id) }, 400
  end
  qa:post("onAction", id, { deviceId = id, actionName = name, args = args or {} })
  return { message = "Accepted" }, 202
end

--- The arguments `arg1`, `arg2`, ... of a query, in order, numbers as numbers.
local function query_args(query)
  local args, n = {}, 1
  while query["arg" .. n] ~= nil do
    local value = query["arg" .. n]
    args[n] = tonumber(value) or (value == "true" and true) or (value ~= "false" and value) or false
    n = n + 1
  end
  return args
end

function M.install()
  router.add("GET", "/devices", function(_, query)
    local list = {}
    for _, record in ipairs(devices.all()) do
      if devices.matches(record, query) then
        list[#list + 1] = record
      end
    end
    return list
  end)
  router.add("POST", "/devices/filter", function(_, _, data)
    local list = {}
    for _, record in ipairs(devices.all()) do
      local keep = true
      for _, filter in ipairs((data or {}).filters or {}) do
        for key, value in pairs(filter.value and { [filter.filter] = filter.value[1] } or {}) do
          if not devices.matches(record, { [key] = value }) then
            keep = false
          end
        end
      end
      if keep then
        list[#list + 1] = record
      end
    end
    return list
  end)
  router.add("GET", "/devices/{id:number}", function(params)
    local record, err, status = device_or_404(params.id)
    if not record then
      return err, status
    end
    return record
  end)
  router.add("PUT", "/devices/{id:number}", with_body(function(params, _, data)
    local record, err, status = device_or_404(params.id)
    if not record then
      return err, status
    end
    for key, value in pairs(data or {}) do
      if key == "properties" then
        for name, property in pairs(value) do
          devices.set_property(record.id, name, property)
        end
      elseif key ~= "id" then
        record[key] = value
      end
    end
    return record
  end))
  router.add("DELETE", "/devices/{id:number}", function(params)
    if devices.remove(params.id) then
      return nil, 200
    end
    return not_found(("device %s"):format(params.id))
  end)
  router.add("GET", "/devices/{id:number}/properties/{name}", function(params)
    local record, err, status = device_or_404(params.id)
    if not record then
      return err, status
    end
    local value = record.properties[params.name]
    if value == nil then
      return not_found(("property %s"):format(params.name))
    end
    return { value = value, modified = record.modified }
  end)
  router.add("POST", "/devices/{id:number}/action/{name}", function(params, _, data)
    return dispatch_action(params.id, params.name, (data or {}).args)
  end)
  router.add("GET", "/devices/{id:number}/action/{name}", function(params, query)
    return dispatch_action(params.id, params.name, query_args(query))
  end)
  router.add("GET", "/callAction", function(_, query)
    return dispatch_action(tonumber(query.deviceID), query.name, query_args(query))
  end)

  router.add("POST", "/plugins/updateProperty", with_body(function(_, _, data)
    if not devices.set_property(data.deviceId, data.propertyName, data.value) then
      return not_found(("device %s"):format(tostring(data.deviceId)))
    end
    return nil, 204
  end))
  router.add("POST", "/plugins/updateView", with_body(function(_, _, data)
    local qa = devices.qa_of(data.deviceId)
    if not qa then
      return not_found(("device %s"):format(tostring(data.deviceId)))
    end
    qa:update_view(data.deviceId, data.componentName, data.propertyName, data.newValue)
    return nil, 204
  end))
  router.add("POST", "/plugins/callUIEvent", with_body(function(_, _, data)
    local qa = devices.qa_of(data.deviceID or data.deviceId)
    if not qa then
      return not_found(("device %s"):format(tostring(data.deviceID or data.deviceId)))
    end
    local id = tonumber(data.deviceID or data.deviceId)
    local values = data.values or (data.value ~= nil and { data.value }) or {}
    qa:post("onUIEvent", id, {
      deviceId = id, elementName = data.elementName, eventType = data.eventType, values = values,
    })
    return nil, 204
  end))
  router.add("GET", "/plugins/callUIEvent", function(_, query)
    return router.call("POST", "/plugins/callUIEvent", {
      deviceID = tonumber(query.deviceID), elementName = query.elementName,
      eventType = query.eventType, values = { tonumber(query.value) or query.value },
    })
  end)
  router.add("POST", "/plugins/createChildDevice", with_body(function(_, _, data)
    local parent = devices.get(data.parentId)
    if not parent then
      return not_found(("parent device %s"):format(tostring(data.parentId)))
    end
    local interfaces = {}
    for _, name in ipairs(data.initialInterfaces or {}) do
      interfaces[#interfaces + 1] = name
    end
    interfaces[#interfaces + 1] = "quickAppChild"
    local ok, record = pcall(devices.create, {
      name = data.name, type = data.type, parentId = parent.id, roomID = parent.roomID,
      interfaces = interfaces, properties = data.initialProperties,
    })
    if not ok then
      return { type = "ERROR", reason = tostring(record) }, 400
    end
    return record
  end))
  router.add("DELETE", "/plugins/removeChildDevice/{id:number}", function(params)
    if devices.remove(params.id) then
      return nil, 200
    end
    return not_found(("device %s"):format(params.id))
  end)
  router.add("POST", "/plugins/interfaces", with_body(function(_, _, data)
    if not devices.update_interfaces(data.deviceId, data.action, data.interfaces) then
      return not_found(("device %s"):format(tostring(data.deviceId)))
    end
    return nil, 200
  end))
  router.add("POST", "/plugins/restart", function(_, _, data)
    local qa = devices.qa_of((data or {}).deviceId)
    if not qa then
      return not_found(("device %s"):format(tostring((data or {}).deviceId)))
    end
    qa:restart()
    return nil, 200
  end)
  router.add("POST", "/plugins/publishEvent", with_body(function(_, _, data)
    events.add({ type = data.type, data = data.source and { id = data.source } or data })
    return nil, 200
  end))
  router.add("GET", "/plugins/getView", function(_, query)
    local qa = devices.qa_of(query.id)
    if not qa then
      return not_found(("device %s"):format(tostring(query.id)))
    end
    return qa:view(tonumber(query.id))
  end)

  -- internalStorage: /plugins/{id}/variables
  local function storage(id)
    local record = devices.get(id)
    if not record then
      return nil
    end
    record.storage = record.storage or {}
    return record.storage
  end
  router.add("GET", "/plugins/{id:number}/variables", function(params)
    local store = storage(params.id)
    if not store then
      return not_found(("device %s"):format(params.id))
    end
    local list = {}
    for name, var in pairs(store) do
      list[#list + 1] = { name = name, value = var.value, isHidden = var.isHidden }
    end
    table.sort(list, function(a, b)
      return a.name < b.name
    end)
    return list
  end)
  router.add("GET", "/plugins/{id:number}/variables/{name}", function(params)
    local store = storage(params.id)
    local var = store and store[params.name]
    if not var then
      return not_found(("variable %s"):format(params.name))
    end
    return { name = params.name, value = var.value, isHidden = var.isHidden }
  end)
  router.add("POST", "/plugins/{id:number}/variables", with_body(function(params, _, data)
    local store = storage(params.id)
    if not store then
      return not_found(("device %s"):format(params.id))
    end
    if type(data.name) ~= "string" then
      return { type = "ERROR", reason = "a variable needs a name" }, 400
    end
    if store[data.name] then
      return { type = "ERROR", reason = ("variable %s exists"):format(data.name) }, 409
    end
    store[data.name] = { value = data.value, isHidden = data.isHidden == true }
    return { name = data.name, value = data.value, isHidden = data.isHidden == true }, 201
  end))
  router.add("PUT", "/plugins/{id:number}/variables/{name}", with_body(function(params, _, data)
    local store = storage(params.id)
    if not store or not store[params.name] then
      return not_found(("variable %s"):format(params.name))
    end
    store[params.name] = { value = data.value, isHidden = data.isHidden == true }
    return nil, 200
  end))
  router.add("DELETE", "/plugins/{id:number}/variables/{name}", function(params)
    local store = storage(params.id)
    if not store or not store[params.name] then
      return not_found(("variable %s"):format(params.name))
    end
    store[params.name] = nil
    return nil, 200
  end)
  router.add("DELETE", "/plugins/{id:number}/variables", function(params)
    local record = devices.get(params.id)
    if not record then
      return not_found(("device %s"):format(params.id))
    end
    record.storage = {}
    return nil, 200
  end)

  -- QuickApp files and export
  router.add("GET", "/quickApp/{id:number}/files", function(params)
    local qa = devices.qa_of(params.id)
    if not qa then
      return not_found(("QuickApp %s"):format(params.id))
    end
    local list = {}
    for _, file in ipairs(qa.files) do
      list[#list + 1] = { name = file.name, type = "lua", isMain = file.isMain, isOpen = false }
    end
    return list
  end)
  router.add("GET", "/quickApp/{id:number}/files/{name}", function(params)
    local qa = devices.qa_of(params.id)
    for _, file in ipairs(qa and qa.files or {}) do
      if file.name == params.name then
        return { name = file.name, type = "lua", isMain = file.isMain, isOpen = false, content = file.content }
      end
    end
    return not_found(("file %s"):format(params.name))
  end)
  router.add("GET", "/quickApp/export/{id:number}", function(params)
    local qa = devices.qa_of(params.id)
    if not qa then
      return not_found(("QuickApp %s"):format(params.id))
    end
    return require("fibaro.fqa").export(qa)
  end)
end

return M
