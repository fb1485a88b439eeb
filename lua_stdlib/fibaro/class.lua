-- fibaro.class: the hub's `class 'Name'(Parent)` (luabind style) and `property`, per QuickApp
-- environment: `class 'Light'(QuickAppChild)` defines the global `Light` in the QA that runs it.
-- `Light(args)` makes an instance and calls its `__init`; a subclass calls its parent's
-- constructor as `Parent.__init(self, ...)`. Methods are looked up through the class chain.

local M = {}

local setmetatable, getmetatable, rawget, type = setmetatable, getmetatable, rawget, type

-- `property(get, set)` fields live in the class; instances read and write them through the
-- accessors.
local PROPERTY = {}

local function find(cls, key)
  while cls do
    local value = rawget(cls, key)
    if value ~= nil then
      return value
    end
    local mt = getmetatable(cls)
    cls = mt and mt.__parent
  end
end

local function new_instance(cls, ...)
  local object = {}
  setmetatable(object, cls.__instance_mt)
  local init = find(cls, "__init")
  if init then
    init(object, ...)
  end
  return object
end

--- Makes the `class` function of environment `env`.
function M.make(env)
  return function(name)
    if type(name) ~= "string" then
      error(("class: bad argument #1 (class name expected, got %s)"):format(type(name)), 2)
    end
    local cls = {}
    local instance_mt = {
      __index = function(object, key)
        local value = find(cls, key)
        if type(value) == "table" and rawget(value, PROPERTY) then
          return value.get(object)
        end
        return value
      end,
      __newindex = function(object, key, value)
        local field = find(cls, key)
        if type(field) == "table" and rawget(field, PROPERTY) then
          return field.set(object, value)
        end
        rawset(object, key, value)
      end,
      __tostring = function(object)
        local custom = find(cls, "__tostring")
        if custom then
          return custom(object)
        end
        return ("object %s"):format(name)
      end,
    }
    cls.__instance_mt = instance_mt
    local class_mt = {
      __call = new_instance,
      __tostring = function()
        return "class " .. name
      end,
      __index = function(_, key)
        local mt = getmetatable(cls)
        local parent = mt.__parent
        return parent and parent[key]
      end,
    }
    setmetatable(cls, class_mt)
    env[name] = cls
    return function(parent)
      class_mt.__parent = parent
      return cls
    end
  end
end

--- `property(get, set)`: a class field read and written through accessors.
function M.property(get, set)
  return { [PROPERTY] = true, get = get, set = set or function()
    error("property is read-only", 2)
  end }
end

return M
