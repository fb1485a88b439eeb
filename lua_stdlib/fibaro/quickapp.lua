-- fibaro.quickapp: the classes a QuickApp is written against — `QuickAppBase`, `QuickApp`,
-- `QuickAppChild` — and the hub's dispatch of actions and UI events (`onAction`,
-- `onUIEvent`), installed into one QA's environment. Calls go through the QA's `api` (the
-- in-process router), as on the hub, so what a QA changes is visible through the REST API.

local M = {}

local fmt = string.format

--- Installs the classes into `env` (which already holds `class`, `api`, `fibaro`, `json`).
function M.install(env, qa)
  local class, api, fibaro = env.class, env.api, env.fibaro

  local function tag()
    return env.__TAG
  end

  class("QuickAppBase")
  local QuickAppBase = env.QuickAppBase

  function QuickAppBase:__init(device)
    self.id = device.id
    self.type = device.type
    self.name = device.name
    self.enabled = device.enabled
    self.parentId = device.parentId
    self.roomID = device.roomID
    self.interfaces = device.interfaces
    self.properties = device.properties
    self.uiCallbacks = {}
  end

  -- Logging works on instances and, as many published QAs use it, on the class itself.
  for _, kind in ipairs({ "debug", "trace", "warning", "error" }) do
    QuickAppBase[kind] = function(_, ...)
      fibaro[kind](tag(), ...)
    end
  end

  function QuickAppBase:registerUICallback(element, event_type, method)
    self.uiCallbacks[element] = self.uiCallbacks[element] or {}
    self.uiCallbacks[element][event_type] = method
  end

  function QuickAppBase:setupUICallbacks()
    for _, entry in ipairs(self.properties.uiCallbacks or {}) do
      self:registerUICallback(entry.name, entry.eventType, entry.callback)
    end
  end
  QuickAppBase.registerUICallbacks = QuickAppBase.setupUICallbacks

  function QuickAppBase:callAction(name, ...)
    local method = self[name]
    if type(method) ~= "function" then
      self:warning(fmt("Class does not have '%s' function defined - action ignored", tostring(name)))
      return
    end
    return method(self, ...)
  end

  function QuickAppBase:updateProperty(name, value)
    self.properties[name] = value
    api.post("/plugins/updateProperty", { deviceId = self.id, propertyName = name, value = value })
  end

  function QuickAppBase:updateView(element, field, value)
    api.post("/plugins/updateView", {
      deviceId = self.id, componentName = element, propertyName = field, newValue = value,
    })
  end

  function QuickAppBase:hasInterface(name)
    for _, present in ipairs(self.interfaces) do
      if present == name then
        return true
      end
    end
    return false
  end

  function QuickAppBase:addInterfaces(names)
    api.post("/plugins/interfaces", { action = "add", deviceId = self.id, interfaces = names })
    self.interfaces = api.get("/devices/" .. self.id).interfaces
  end

  function QuickAppBase:deleteInterfaces(names)
    api.post("/plugins/interfaces", { action = "delete", deviceId = self.id, interfaces = names })
    self.interfaces = api.get("/devices/" .. self.id).interfaces
  end

  function QuickAppBase:setName(name)
    api.put("/devices/" .. self.id, { name = name })
    self.name = name
  end

  function QuickAppBase:setEnabled(enabled)
    api.put("/devices/" .. self.id, { enabled = enabled })
  end

  function QuickAppBase:setVisible(visible)
    api.put("/devices/" .. self.id, { visible = visible })
  end

  function QuickAppBase:getVariable(name)
    for _, var in ipairs(self.properties.quickAppVariables or {}) do
      if var.name == name then
        return var.value
      end
    end
    return ""
  end

  function QuickAppBase:setVariable(name, value)
    local vars = self.properties.quickAppVariables
    for _, var in ipairs(vars) do
      if var.name == name then
        var.value = value
        return api.put("/devices/" .. self.id, { properties = { quickAppVariables = vars } })
      end
    end
    vars[#vars + 1] = { name = name, value = value }
    api.put("/devices/" .. self.id, { properties = { quickAppVariables = vars } })
  end

  -- internalStorage: the hub's /plugins/{id}/variables, with its status codes.
  function QuickAppBase:internalStorageSet(key, value, hidden)
    env.__assert_type(key, "string")
    local data = { name = key, value = value, isHidden = hidden == true }
    local _, status = api.put(fmt("/plugins/%s/variables/%s", self.id, key), data)
    if status ~= 200 then
      _, status = api.post(fmt("/plugins/%s/variables", self.id), data)
    end
    return status
  end

  function QuickAppBase:internalStorageGet(key)
    if key ~= nil then
      local result, status = api.get(fmt("/plugins/%s/variables/%s", self.id, key))
      if status ~= 200 then
        return nil
      end
      return result.value
    end
    local list, status = api.get(fmt("/plugins/%s/variables", self.id))
    if status ~= 200 then
      return nil
    end
    local values = {}
    for _, var in ipairs(list) do
      values[var.name] = var.value
    end
    return values
  end

  function QuickAppBase:internalStorageRemove(key)
    local _, status = api.delete(fmt("/plugins/%s/variables/%s", self.id, key))
    return status
  end

  function QuickAppBase:internalStorageClear()
    local _, status = api.delete(fmt("/plugins/%s/variables", self.id))
    return status
  end

  class("QuickApp")(QuickAppBase)
  local QuickApp = env.QuickApp

  function QuickApp:__init(device)
    QuickAppBase.__init(self, device)
    env.quickApp = self
    env.plugin.mainQA = self
    qa.instance = self
    self.childDevices = {}
    self.childsInitialized = false
    self:setupUICallbacks()
    if self.onInit then
      self:onInit()
    end
    if not self.childsInitialized then
      self:initChildDevices()
    end
  end

  function QuickApp:initChildDevices(map)
    map = map or {}
    for _, child in ipairs(api.get("/devices?parentId=" .. self.id) or {}) do
      if self.childDevices[child.id] == nil then
        local cls = map[child.type]
        if not cls then
          if next(map) then
            self:warning(fmt("Class for the child device: %s, with type: %s not found. Using base class: QuickAppChild", child.id, child.type))
          end
          cls = env.QuickAppChild
        end
        local instance = cls(child)
        instance.parent = self
        self.childDevices[child.id] = instance
      end
    end
    self.childsInitialized = true
  end

  function QuickApp:createChildDevice(options, cls)
    env.__assert_type(options, "table")
    env.__assert_type(options.name, "string")
    env.__assert_type(options.type, "string")
    options.parentId = self.id
    local child, status = api.post("/plugins/createChildDevice", options)
    if status ~= 200 or type(child) ~= "table" then
      error(fmt("createChildDevice: %s", type(child) == "table" and tostring(child.message) or tostring(child)), 2)
    end
    local instance = (cls or env.QuickAppChild)(child)
    instance.parent = self
    self.childDevices[child.id] = instance
    return instance
  end

  function QuickApp:removeChildDevice(id)
    if self.childDevices[id] then
      api.delete("/plugins/removeChildDevice/" .. id)
      self.childDevices[id] = nil
    end
  end

  class("QuickAppChild")(QuickAppBase)
  local QuickAppChild = env.QuickAppChild

  function QuickAppChild:__init(device)
    QuickAppBase.__init(self, device)
    self.parentId = device.parentId
    if self.onInit then
      self:onInit()
    end
  end

  -- The object an action or UI event for device `id` goes to: the QA or one of its children.
  local function target(id)
    local main = qa.instance
    if not main then
      return nil
    end
    if id == main.id then
      return main
    end
    return main.childDevices[id]
  end

  function env.onAction(id, event)
    local main = qa.instance
    if main and main.actionHandler then
      return main:actionHandler(event)
    end
    local object = target(event.deviceId or id)
    if not object then
      return fibaro.warning(tag(), fmt("Child with id:%s not found", tostring(event.deviceId or id)))
    end
    return object:callAction(event.actionName, table.unpack(event.args or {}))
  end

  function env.onUIEvent(id, event)
    local main = qa.instance
    if main and main.UIHandler then
      return main:UIHandler(event)
    end
    local object = target(event.deviceId or id) or main
    if not object then
      return
    end
    local callbacks = object.uiCallbacks[event.elementName]
    local method = callbacks and callbacks[event.eventType]
    if method == nil or method == "" then
      return fibaro.warning(tag(), fmt("UI callback for element %s not found.", tostring(event.elementName)))
    end
    return object:callAction(method, event)
  end
end

return M
