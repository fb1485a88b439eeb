-- fibaro.devices: the emulated devices. Records look like the hub's (`id, name, roomID, type,
-- baseType, enabled, visible, parentId, interfaces, properties{...}, actions{...}, created,
-- modified`), built from the embedded device-type catalogue (lua_stdlib/fibaro/
-- device_types.json, derived by scripts/device_types.py from a real hub's records). QuickApps
-- get ids from 5555 upward, their children the next free ones. Property changes emit
-- `DevicePropertyUpdatedEvent`s.

local events = require("fibaro.events")
local clock = require("fibaro.clock")

local M = {}

local DEFAULT_TYPE = "com.fibaro.binarySwitch"
local FIRST_ID = 5555

local by_id = {} -- id -> device record
local next_id = FIRST_ID
local types -- type name -> {baseType, interfaces, actions, properties}, read on first use

local function copy(value)
  if type(value) ~= "table" then
    return value
  end
  local result = {}
  for k, v in pairs(value) do
    result[k] = copy(v)
  end
  local mt = getmetatable(value)
  if mt == false then
    -- plua's (protected) array mark, so the copy still encodes as an array
    return _PY.json_array(result)
  end
  return setmetatable(result, mt)
end
M.copy = copy

local catalogue_text -- the embedded catalogue: one JSON object, one type per line
local templates = {} -- type name -> decoded template (only the types used)

local function catalogue()
  catalogue_text = catalogue_text or assert(_PY.embedded_file("fibaro/device_types.json"))
  return catalogue_text
end

--- The whole device-type catalogue (type name -> template).
function M.types()
  if not types then
    types = assert(_PY.parse_json(catalogue()))
  end
  return types
end

--- The template of device type `name` ({baseType, interfaces, actions, properties}), or nil.
--- Decodes only that type's line of the catalogue.
function M.template(name)
  if templates[name] == nil then
    local text = catalogue()
    local key = "\n" .. _PY.to_json(name) .. ":"
    local start = text:find(key, 1, true)
    if not start then
      return nil
    end
    local finish = text:find("\n", start + 1, true) or #text
    local line = text:sub(start + #key, finish - 1):gsub(",$", "")
    templates[name] = assert(_PY.parse_json(line))
  end
  return templates[name]
end

--- The next free device id (QuickApps and children share the counter).
function M.allocate_id(wanted)
  if wanted and not by_id[wanted] then
    if wanted >= next_id then
      next_id = wanted + 1
    end
    return wanted
  end
  while by_id[next_id] do
    next_id = next_id + 1
  end
  local id = next_id
  next_id = next_id + 1
  return id
end

--- A new device record of `opts.type` (default binarySwitch), registered under a fresh id.
--- `opts`: id, name, type, parentId, roomID, interfaces, properties (merged over the type's
--- defaults), quickAppVariables.
function M.create(opts)
  local type_name = opts.type or DEFAULT_TYPE
  local template = M.template(type_name)
  if not template then
    error(("unknown device type '%s'"):format(tostring(type_name)), 0)
  end
  local id = M.allocate_id(opts.id)
  local now = math.floor(clock.now())
  local properties = copy(template.properties)
  properties.quickAppVariables = opts.quickAppVariables or {}
  properties.uiCallbacks = opts.uiCallbacks or {}
  properties.viewLayout = opts.viewLayout or {}
  properties.uiView = opts.uiView or {}
  properties.categories = copy(template.categories)
  for k, v in pairs(opts.properties or {}) do
    properties[k] = copy(v)
  end
  local interfaces = copy(template.interfaces)
  for _, name in ipairs(opts.interfaces or {}) do
    interfaces[#interfaces + 1] = name
  end
  local has_quickapp = false
  for _, name in ipairs(interfaces) do
    has_quickapp = has_quickapp or name == "quickApp" or name == "quickAppChild"
  end
  if not has_quickapp then
    interfaces[#interfaces + 1] = (opts.parentId or 0) > 0 and "quickAppChild" or "quickApp"
  end
  local record = {
    id = id,
    name = opts.name or ("QA" .. id),
    roomID = opts.roomID or 219,
    type = type_name,
    baseType = template.baseType,
    enabled = true,
    visible = true,
    isPlugin = true,
    parentId = opts.parentId or 0,
    viewXml = false,
    hasUIView = true,
    configXml = false,
    interfaces = interfaces,
    properties = properties,
    actions = copy(template.actions),
    created = now,
    modified = now,
    sortOrder = id,
  }
  by_id[id] = record
  events.add({ type = "DeviceCreatedEvent", data = { id = id } })
  return record
end

--- Registers a ready record (device 1 of the offline hub) under its own id.
function M.insert(record)
  by_id[record.id] = record
  return record
end

--- The device with `id`, or nil.
function M.get(id)
  return by_id[tonumber(id)]
end

--- Every device, in id order.
function M.all()
  local list = {}
  for _, record in pairs(by_id) do
    list[#list + 1] = record
  end
  table.sort(list, function(a, b)
    return a.id < b.id
  end)
  return list
end

--- Removes device `id` (and its children); true if it existed.
function M.remove(id)
  id = tonumber(id)
  if not by_id[id] then
    return false
  end
  for _, record in ipairs(M.all()) do
    if record.parentId == id then
      M.remove(record.id)
    end
  end
  by_id[id] = nil
  events.add({ type = "DeviceRemovedEvent", data = { id = id } })
  return true
end

--- Sets property `name` of device `id`; emits `DevicePropertyUpdatedEvent` when it changed.
--- Returns false if there is no such device.
function M.set_property(id, name, value)
  local record = by_id[tonumber(id)]
  if not record then
    return false
  end
  local old = record.properties[name]
  record.properties[name] = value
  if old ~= value or type(value) == "table" then
    record.modified = math.floor(clock.now())
    events.property_updated(record.id, name, value, old)
  end
  return true
end

--- Adds (`"add"`) or deletes (`"delete"`) interface names on device `id`.
function M.update_interfaces(id, action, names)
  local record = by_id[tonumber(id)]
  if not record then
    return false
  end
  local present = {}
  for _, name in ipairs(record.interfaces) do
    present[name] = true
  end
  for _, name in ipairs(names or {}) do
    present[name] = action == "add" or nil
  end
  local list = {}
  for name in pairs(present) do
    list[#list + 1] = name
  end
  table.sort(list)
  record.interfaces = list
  return true
end

local owners = {} -- QuickApp device id -> its QA context

--- Marks device `id` as the main device of QuickApp context `qa`.
function M.attach(id, qa)
  owners[id] = qa
end

--- The QA context that handles device `id` (its own, or its parent's for a child).
function M.qa_of(id)
  local record = by_id[tonumber(id)]
  if not record then
    return nil
  end
  return owners[record.id] or owners[record.parentId]
end

--- Whether `record` matches the `/devices` query filters (all must hold).
function M.matches(record, filters)
  for key, want in pairs(filters) do
    if key == "interface" then
      local found = false
      for _, name in ipairs(record.interfaces) do
        found = found or name == want
      end
      if not found then
        return false
      end
    elseif key == "property" then
      local name, value = tostring(want):match("^%[?([^,%]]+),?([^%]]*)%]?$")
      local actual = record.properties[name or want]
      if actual == nil or (value ~= "" and tostring(actual) ~= value) then
        return false
      end
    elseif record[key] ~= nil and tostring(record[key]) ~= tostring(want) then
      return false
    end
  end
  return true
end

return M
