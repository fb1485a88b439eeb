-- plua.class: the HC3's `class` function (`require("plua.class")` returns it and, if the
-- script has none yet, sets the global `class`).
--
--   class 'Animal'                          -- creates the global Animal
--   function Animal:__init(name) self.name = name end
--   class 'Dog'(Animal)                     -- Dog inherits from Animal
--   function Dog:__init(name) Animal.__init(self, name) end
--   local d = Dog("Rex")                    -- calls Dog.__init(d, "Rex")
--
-- Methods are looked up in the class, then its parent; metamethods (`__tostring`, `__eq`, ...)
-- defined on a parent apply to the child's instances too unless the child defines its own.

local type, setmetatable, rawget, pairs, error = type, setmetatable, rawget, pairs, error

local function class(name)
  if type(name) ~= "string" then
    error(("class: bad argument #1 (class name expected, got %s)"):format(type(name)), 2)
  end
  local cls = { __name = name }
  cls.__index = cls
  local meta = {
    __call = function(c, ...)
      local object = setmetatable({}, c)
      local init = c.__init
      if init then
        init(object, ...)
      end
      return object
    end,
    __tostring = function()
      return "class " .. name
    end,
  }
  setmetatable(cls, meta)
  _G[name] = cls
  return function(parent)
    if parent ~= nil then
      if type(parent) ~= "table" then
        error(("class '%s': parent class expected, got %s"):format(name, type(parent)), 2)
      end
      meta.__index = parent
      -- Metamethods are found with a raw lookup: copy the parent's that the child lacks.
      for key, value in pairs(parent) do
        if type(key) == "string" and key:sub(1, 2) == "__" and key ~= "__index"
          and key ~= "__name" and rawget(cls, key) == nil then
          cls[key] = value
        end
      end
    end
    return cls
  end
end

if _G.class == nil then
  _G.class = class
end

return class
