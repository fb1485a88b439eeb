-- fibaro.offline: the in-memory HC3 that answers what the emulated devices don't — global
-- variables (CRUD, changes emit `GlobalVariableChangedEvent`), rooms, sections, custom events,
-- `settings/info`, `settings/location`, `home`, `weather`, `panels/location`,
-- `notificationCenter`, alarm partitions, profiles, device 1 (sunrise/sunset computed from the
-- location), scenes, and `/refreshStates?last=N`. Shapes follow a real hub's answers (the
-- embedded `fibaro/hub_state.json` holds device 1, info, location and home as a hub sent them).

local router = require("fibaro.router")
local events = require("fibaro.events")
local devices = require("fibaro.devices")
local clock = require("fibaro.clock")

local M = {}

local state -- the hub's fixed records, read on first use
local globals = {} -- name -> {name, value, readOnly, isEnum, enumValues, created, modified}
local rooms = {
  [219] = { id = 219, name = "Default Room", sectionID = 219, isDefault = true, visible = true, icon = "room_boy", iconColor = "purple", defaultSensors = { temperature = 0, humidity = 0, light = 0 }, meters = { energy = 0 }, defaultThermostat = nil, sortOrder = 1, category = "other" },
}
local sections = { [219] = { id = 219, name = "Default Section", sortOrder = 1 } }
local custom_events = {} -- name -> {name, userDescription}
local profiles = { activeProfile = 1, profiles = { { id = 1, name = "Home", iconId = 1, devices = {}, scenes = {}, climateZones = {}, partitions = {} } } }
local partitions = {}

local function hub()
  if not state then
    state = assert(_PY.parse_json(assert(_PY.embedded_file("fibaro/hub_state.json"))))
  end
  return state
end

local function now()
  return math.floor(clock.now())
end

local function sorted(map)
  local list = {}
  for _, value in pairs(map) do
    list[#list + 1] = value
  end
  table.sort(list, function(a, b)
    return tostring(a.id or a.name) < tostring(b.id or b.name)
  end)
  return list
end

local function not_found(what)
  return { type = "ERROR", reason = router.printable(what) .. " not found" }, 404
end

-- Sunrise and sunset ("HH:MM", local time) for today at the hub's location (NOAA formulas).
local function sun_times()
  local location = hub().location
  local lat, lon = math.rad(location.latitude or 0), location.longitude or 0
  local t = os.date("*t", clock.time())
  local day = tonumber(os.date("%j", clock.time()))
  local gamma = 2 * math.pi / 365 * (day - 1)
  local decl = 0.006918 - 0.399912 * math.cos(gamma) + 0.070257 * math.sin(gamma)
    - 0.006758 * math.cos(2 * gamma) + 0.000907 * math.sin(2 * gamma)
  local eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(gamma) - 0.032077 * math.sin(gamma)
    - 0.014615 * math.cos(2 * gamma) - 0.040849 * math.sin(2 * gamma))
  local cos_ha = (math.cos(math.rad(90.833)) / (math.cos(lat) * math.cos(decl))) - math.tan(lat) * math.tan(decl)
  cos_ha = math.max(-1, math.min(1, cos_ha))
  local ha = math.deg(math.acos(cos_ha))
  local offset = (location.timezoneOffset or 0) / 60 + (t.isdst and 60 or 0)
  local function at(minutes)
    minutes = (minutes + offset) % 1440
    return ("%02d:%02d"):format(math.floor(minutes / 60), math.floor(minutes % 60))
  end
  return at(720 - 4 * (lon + ha) - eqtime), at(720 - 4 * (lon - ha) - eqtime)
end

local function device1()
  local record = devices.copy(hub().device1)
  local sunrise, sunset = sun_times()
  record.properties.sunriseHour, record.properties.sunsetHour = sunrise, sunset
  return record
end

local function set_global(name, value)
  local var = globals[name]
  local old = var.value
  var.value = value
  var.modified = now()
  if old ~= value then
    events.add({ type = "GlobalVariableChangedEvent", data = { variableName = name, newValue = value, oldValue = old } })
  end
end

function M.install()
  -- global variables (`/globalVariables` and `/globalVariables/` both work)
  local function list_globals()
    return sorted(globals)
  end
  router.add("GET", "/globalVariables", list_globals)
  router.add("GET", "/globalVariables/{name}", function(params)
    local var = globals[params.name]
    if not var then
      return not_found(("global variable %s"):format(params.name))
    end
    return var
  end)
  router.add("POST", "/globalVariables", function(_, _, data)
    if type(data) ~= "table" or type(data.name) ~= "string" then
      return { type = "ERROR", reason = "a global variable needs a name" }, 400
    end
    if globals[data.name] then
      return { type = "ERROR", reason = ("global variable %s exists"):format(data.name) }, 409
    end
    local var = {
      name = data.name, value = tostring(data.value or ""), readOnly = data.readOnly == true,
      isEnum = data.isEnum == true, enumValues = data.enumValues or {}, created = now(), modified = now(),
    }
    globals[data.name] = var
    events.add({ type = "GlobalVariableAddedEvent", data = { variableName = data.name, value = var.value } })
    return var, 201
  end)
  router.add("PUT", "/globalVariables/{name}", function(params, _, data)
    if not globals[params.name] then
      return not_found(("global variable %s"):format(params.name))
    end
    set_global(params.name, tostring((data or {}).value))
    return globals[params.name]
  end)
  router.add("DELETE", "/globalVariables/{name}", function(params)
    if not globals[params.name] then
      return not_found(("global variable %s"):format(params.name))
    end
    globals[params.name] = nil
    events.add({ type = "GlobalVariableRemovedEvent", data = { variableName = params.name } })
    return nil, 200
  end)

  -- rooms and sections
  for path, store in pairs({ ["/rooms"] = { rooms, "room" }, ["/sections"] = { sections, "section" } }) do
    local map, label = store[1], store[2]
    router.add("GET", path, function()
      return sorted(map)
    end)
    router.add("GET", path .. "/{id:number}", function(params)
      return map[params.id] or not_found(("%s %d"):format(label, params.id))
    end)
    router.add("POST", path, router.with_body(function(_, _, data)
      local id = 220
      while map[id] do
        id = id + 1
      end
      local record = devices.copy(data or {})
      record.id = id
      map[id] = record
      return record, 201
    end))
    router.add("PUT", path .. "/{id:number}", router.with_body(function(params, _, data)
      local record = map[params.id]
      if not record then
        return not_found(("%s %d"):format(label, params.id))
      end
      for k, v in pairs(data or {}) do
        if k ~= "id" then
          record[k] = v
        end
      end
      return record
    end))
    router.add("DELETE", path .. "/{id:number}", function(params)
      if not map[params.id] then
        return not_found(("%s %d"):format(label, params.id))
      end
      map[params.id] = nil
      return nil, 200
    end)
  end

  -- custom events
  router.add("GET", "/customEvents", function()
    return sorted(custom_events)
  end)
  router.add("GET", "/customEvents/{name}", function(params)
    return custom_events[params.name] or not_found(("custom event %s"):format(params.name))
  end)
  router.add("POST", "/customEvents", function(_, _, data)
    if type(data) ~= "table" or type(data.name) ~= "string" then
      return { type = "ERROR", reason = "a custom event needs a name" }, 400
    end
    custom_events[data.name] = { name = data.name, userDescription = data.userDescription or "" }
    return custom_events[data.name], 201
  end)
  router.add("POST", "/customEvents/{name}", function(params)
    if not custom_events[params.name] then
      return not_found(("custom event %s"):format(params.name))
    end
    events.add({ type = "CustomEvent", data = { name = params.name, value = custom_events[params.name].userDescription } })
    return nil, 204
  end)
  router.add("DELETE", "/customEvents/{name}", function(params)
    if not custom_events[params.name] then
      return not_found(("custom event %s"):format(params.name))
    end
    custom_events[params.name] = nil
    return nil, 200
  end)

  -- settings, home, weather, panels, notifications, alarms, profiles, scenes
  router.add("GET", "/settings/info", function()
    local info = devices.copy(hub().info)
    info.timestamp = now()
    info.sunriseHour, info.sunsetHour = sun_times()
    return info
  end)
  router.add("GET", "/settings/location", function()
    return hub().location
  end)
  router.add("PUT", "/settings/location", function(_, _, data)
    for k, v in pairs(data or {}) do
      hub().location[k] = v
    end
    return hub().location
  end)
  router.add("GET", "/home", function()
    return hub().home
  end)
  router.add("GET", "/weather", function()
    return { Temperature = 12.0, TemperatureUnit = "C", Humidity = 70, Wind = 3.2, WindUnit = "km/h", WeatherCondition = "clear", ConditionCode = 32 }
  end)
  router.add("GET", "/panels/location", function()
    local location = hub().location
    return { { id = 6, name = "My Home", home = true, address = location.city or "", longitude = location.longitude, latitude = location.latitude, radius = 150 } }
  end)
  router.add("GET", "/notificationCenter", function()
    return {}
  end)
  router.add("GET", "/alarms/v1/partitions", function()
    return sorted(partitions)
  end)
  router.add("GET", "/alarms/v1/partitions/{id:number}", function(params)
    return partitions[params.id] or not_found(("partition %d"):format(params.id))
  end)
  router.add("GET", "/profiles", function()
    return profiles
  end)
  router.add("POST", "/profiles/activeProfile/{id:number}", function(params)
    profiles.activeProfile = params.id
    return nil, 204
  end)
  router.add("GET", "/scenes", function()
    return {}
  end)
  devices.insert(device1())
  router.add("GET", "/refreshStates", function(_, query)
    return events.since(query.last)
  end)
end

--- Device 1 (the controller), for the device routes.
M.device1 = device1

--- Where routes no one handles go offline: 501 with a message.
function M.fallback(method, path)
  return { type = "ERROR", reason = ("%s %s is not emulated in offline mode"):format(method, path) }, 501
end

return M
