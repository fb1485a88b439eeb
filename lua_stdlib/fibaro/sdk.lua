-- fibaro.sdk: the hub's functions inside one QuickApp's environment: `fibaro.*` and its alias
-- `hub.*`, `api.get/post/put/delete`, `plugin.*`, the internal helpers published QAs call
-- (`__assert_type`, `__fibaro_get_device`, `__TAG`, ...), and the QA's timers (`setTimeout`,
-- `fibaro.setTimeout(ms, fn)` with the hub's argument order, `fibaro.sleep`), which run at the
-- emulated clock's speed and log a failing callback as the QA's error with file:line.

local log = require("fibaro.log")
local copy = require("fibaro.devices").copy
local clock = require("fibaro.clock")

local M = {}

local fmt, type, tostring, select = string.format, type, tostring, select

-- `error` values as the hub logs them: the message, with a traceback for the console.
local function describe(err)
  return debug.traceback(tostring(err), 2)
end

--- Installs the SDK into `env` for QuickApp context `qa` (`qa.router` answers `api.*`).
function M.install(env, qa)
  local router = qa.router

  local function log_error(err)
    log.write("ERROR", env.__TAG, tostring(err))
  end
  qa.log_error = log_error

  -- Runs `fn(...)` logging an error as the QA's; returns whether it succeeded.
  local function guarded(fn, ...)
    local ok, err = xpcall(fn, describe, ...)
    if not ok then
      log_error(err)
    end
    return ok
  end
  qa.guarded = guarded

  ---------------------------------------------------------------------------------------------
  -- api: the in-process router
  ---------------------------------------------------------------------------------------------
  local api = {}
  for _, method in ipairs({ "get", "post", "put", "delete" }) do
    local verb = method:upper()
    api[method] = function(path, data)
      if type(path) ~= "string" then
        error(fmt("api.%s: bad argument #1 (string expected, got %s)", method, type(path)), 2)
      end
      -- Copies, as over HTTP: a QA that changes an answer changes nothing on the hub.
      local result, status = router.call(verb, path, data)
      return copy(result), status
    end
  end
  env.api = api

  ---------------------------------------------------------------------------------------------
  -- timers at the emulated clock's speed
  ---------------------------------------------------------------------------------------------
  local real_timeout, real_interval = setTimeout, setInterval
  local function checked_function(name, fn)
    if type(fn) ~= "function" then
      error(fmt("%s: bad argument (function expected, got %s)", name, type(fn)), 3)
    end
  end

  function env.setTimeout(fn, ms, ...)
    checked_function("setTimeout", fn)
    return real_timeout(guarded, clock.real_ms(tonumber(ms) or 0), fn, ...)
  end
  function env.setInterval(fn, ms, ...)
    checked_function("setInterval", fn)
    return real_interval(guarded, clock.real_ms(tonumber(ms) or 0), fn, ...)
  end
  env.clearTimeout, env.clearInterval = clearTimeout, clearInterval

  local fibaro = { plua = { version = _PLUA_VERSION } }
  env.fibaro, env.hub = fibaro, fibaro

  -- The hub's order: ms first. `errorHandler(err)` replaces the error log.
  function fibaro.setTimeout(ms, fn, handler)
    checked_function("fibaro.setTimeout", fn)
    return real_timeout(function()
      local ok, err = xpcall(fn, describe)
      if not ok then
        if handler then
          guarded(handler, err)
        else
          log_error(err)
        end
      end
    end, clock.real_ms(tonumber(ms) or 0))
  end
  function fibaro.setInterval(ms, fn)
    checked_function("fibaro.setInterval", fn)
    return real_interval(guarded, clock.real_ms(tonumber(ms) or 0), fn)
  end
  fibaro.clearTimeout, fibaro.clearInterval = clearTimeout, clearInterval

  function fibaro.sleep(ms)
    _PY.sleep(clock.real_ms(tonumber(ms) or 0) / 1000)
  end

  ---------------------------------------------------------------------------------------------
  -- logging
  ---------------------------------------------------------------------------------------------
  for _, kind in ipairs({ "debug", "trace", "warning", "error" }) do
    local label = kind:upper()
    fibaro[kind] = function(tag, ...)
      log.write(label, tag, ...)
    end
  end
  function env.__fibaro_add_debug_message(tag, message, kind)
    log.write(tostring(kind or "DEBUG"):upper(), tag, message)
  end
  -- `print` in a QA writes a DEBUG line with the QA's tag, as on the hub.
  function env.print(...)
    log.write("DEBUG", env.__TAG, ...)
  end

  ---------------------------------------------------------------------------------------------
  -- devices
  ---------------------------------------------------------------------------------------------
  function env.__assert_type(value, wanted)
    if type(value) ~= wanted then
      error(fmt("Assertion failed: Expected %s, got %s", wanted, type(value)), 3)
    end
  end

  function env.__fibaro_get_device(id)
    return api.get("/devices/" .. tostring(id))
  end
  function env.__fibaro_get_devices()
    return api.get("/devices")
  end
  function env.__fibaro_get_device_property(id, name)
    return api.get(fmt("/devices/%s/properties/%s", tostring(id), tostring(name)))
  end
  function env.__fibaro_get_room(id)
    return api.get("/rooms/" .. tostring(id))
  end
  function env.__fibaro_get_scene(id)
    return api.get("/scenes/" .. tostring(id))
  end
  function env.__fibaro_get_global_variable(name)
    return api.get("/globalVariables/" .. tostring(name))
  end
  function env.__fibaro_get_partition(id)
    return api.get("/alarms/v1/partitions/" .. tostring(id))
  end

  -- Calls `action` on device `id` (a number or a list of ids) with any number of arguments.
  function fibaro.call(id, action, ...)
    if type(id) == "table" then
      for _, each in ipairs(id) do
        fibaro.call(each, action, ...)
      end
      return
    end
    env.__assert_type(action, "string")
    local args = { ... }
    if select("#", ...) == 0 then
      args = env.json.initArray({})
    end
    return api.post(fmt("/devices/%s/action/%s", tostring(id), action), { args = args })
  end
  fibaro.callGroupAction = function(action, args)
    return api.post("/devices/groupAction/" .. tostring(action), args)
  end

  function fibaro.get(id, name)
    local property = env.__fibaro_get_device_property(id, name)
    if type(property) ~= "table" then
      return nil
    end
    return property.value, property.modified
  end
  function fibaro.getValue(id, name)
    return (fibaro.get(id, name))
  end
  local function device_field(field)
    return function(id)
      local device = env.__fibaro_get_device(id)
      return type(device) == "table" and device[field] or nil
    end
  end
  fibaro.getType = device_field("type")
  fibaro.getName = device_field("name")
  fibaro.getRoomID = device_field("roomID")
  function fibaro.getRoomName(id)
    local room = env.__fibaro_get_room(id)
    return type(room) == "table" and room.name or nil
  end
  function fibaro.getRoomNameByDeviceID(id)
    local room = fibaro.getRoomID(id)
    return room and fibaro.getRoomName(room) or nil
  end
  function fibaro.getSectionID(id)
    local room = fibaro.getRoomID(id)
    local record = room and env.__fibaro_get_room(room)
    return type(record) == "table" and record.sectionID or nil
  end
  function fibaro.getDevicesID(filter)
    local query = {}
    for key, value in pairs(filter or {}) do
      if type(value) ~= "table" then
        query[#query + 1] = fmt("%s=%s", key, tostring(value))
      end
    end
    local path = "/devices" .. (#query > 0 and ("?" .. table.concat(query, "&")) or "")
    local ids = {}
    for _, device in ipairs(api.get(path) or {}) do
      local wanted = true
      for name, value in pairs((filter or {}).properties or {}) do
        if device.properties[name] ~= value then
          wanted = false
        end
      end
      for _, name in ipairs((filter or {}).interfaces or {}) do
        local found = false
        for _, present in ipairs(device.interfaces) do
          found = found or present == name
        end
        wanted = wanted and found
      end
      if wanted then
        ids[#ids + 1] = device.id
      end
    end
    return ids
  end
  function fibaro.getIds(devices)
    local ids = {}
    for _, device in ipairs(devices or {}) do
      ids[#ids + 1] = device.id
    end
    return ids
  end
  function fibaro.wakeUpDeadDevice(id)
    return fibaro.call(1, "wakeUpDeadDevice", id)
  end

  ---------------------------------------------------------------------------------------------
  -- global variables, events, scenes, profiles, alarms, alerts
  ---------------------------------------------------------------------------------------------
  function fibaro.getGlobalVariable(name)
    local var = env.__fibaro_get_global_variable(name)
    if type(var) ~= "table" then
      return nil
    end
    return var.value, var.modified
  end
  function fibaro.setGlobalVariable(name, value)
    env.__assert_type(name, "string")
    return api.put("/globalVariables/" .. name, { value = tostring(value), invokeScenes = true })
  end
  function fibaro.emitCustomEvent(name)
    return api.post("/customEvents/" .. tostring(name))
  end
  function fibaro.scene(action, ids)
    for _, id in ipairs(ids or {}) do
      api.post(fmt("/scenes/%s/%s", tostring(id), action == "kill" and "kill" or "execute"), {})
    end
  end
  function fibaro.profile(action, id)
    return api.post(fmt("/profiles/%s/%s", action == "activateProfile" and "activeProfile" or action, tostring(id)))
  end
  function fibaro.alarm(id, action)
    if action == nil then
      return api.post("/alarms/v1/partitions/actions/" .. tostring(id))
    end
    return api.post(fmt("/alarms/v1/partitions/%s/actions/%s", tostring(id), action))
  end
  function fibaro.getPartition(id)
    return env.__fibaro_get_partition(id)
  end
  function fibaro.getPartitions()
    return api.get("/alarms/v1/partitions")
  end
  function fibaro.alert(kind, ids, message)
    for _, id in ipairs(ids or {}) do
      api.post("/mobile/push", { mobileDevices = { id }, message = message, title = "HC3", category = kind })
    end
  end
  function fibaro.getHomeArmState()
    local home = api.get("/alarms/v1/partitions")
    return type(home) == "table" and #home > 0 and "armed" or "disarmed"
  end

  ---------------------------------------------------------------------------------------------
  -- plugin
  ---------------------------------------------------------------------------------------------
  local plugin = { mainDeviceId = qa.id }
  env.plugin = plugin
  function plugin.getDevice(id)
    return api.get("/devices/" .. tostring(id))
  end
  function plugin.deleteDevice(id)
    return api.delete("/devices/" .. tostring(id))
  end
  function plugin.getProperty(id, name)
    local device = plugin.getDevice(id)
    return type(device) == "table" and device.properties[name] or nil
  end
  function plugin.getChildDevices(id)
    return api.get("/devices?parentId=" .. tostring(id or qa.id))
  end
  function plugin.createChildDevice(options)
    return api.post("/plugins/createChildDevice", options)
  end
  function plugin.restart(id)
    return api.post("/plugins/restart", { deviceId = id or qa.id })
  end
end

return M
