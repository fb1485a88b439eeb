-- fibaro.ui: a QuickApp's UI — rows from `--%%u` headers or an export's `uiView` — as the
-- element list the web UI renders, the `uiCallbacks` the hub derives from it (button
-- `onReleased`/`onLongPressDown`/`onLongPressReleased`, switch `onReleased`, slider `onChanged`,
-- select and multi-select `onToggled`), and the live state `updateView` changes (`text`,
-- `value`, `options`, `selectedItem`, `selectedItems`, `visible`, `min`/`max`/`step`).

local M = {}

-- Element kinds and the events they raise.
local KINDS = {
  button = { "onReleased", "onLongPressDown", "onLongPressReleased" },
  switch = { "onReleased", "onLongPressDown", "onLongPressReleased" },
  slider = { "onChanged" },
  select = { "onToggled" },
  multi = { "onToggled" },
  label = {},
}

-- One element of a header row as {kind, name, fields...}.
local function element_of(spec)
  for kind in pairs(KINDS) do
    if spec[kind] ~= nil then
      local element = { type = kind, name = tostring(spec[kind]) }
      for key, value in pairs(spec) do
        if key ~= kind then
          element[key] = value
        end
      end
      return element
    end
  end
  return nil
end

--- The rows of elements for header rows (each row a spec table or a list of them).
function M.rows_from_headers(header_rows)
  local rows = {}
  for _, row in ipairs(header_rows or {}) do
    local specs = row[1] ~= nil and row or { row }
    local elements = {}
    for _, spec in ipairs(specs) do
      local element = type(spec) == "table" and element_of(spec)
      if element then
        elements[#elements + 1] = element
      end
    end
    if #elements > 0 then
      rows[#rows + 1] = elements
    end
  end
  return rows
end

--- The `uiCallbacks` list for `rows` ({name, eventType, callback}).
function M.callbacks(rows)
  local list = {}
  for _, row in ipairs(rows) do
    for _, element in ipairs(row) do
      for _, event in ipairs(KINDS[element.type] or {}) do
        local method = element[event]
        if method ~= nil then
          list[#list + 1] = { name = element.name, eventType = event, callback = method }
        end
      end
    end
  end
  return list
end

--- The initial view state: element name -> {text, value, options, ...}.
function M.initial_state(rows)
  local state = {}
  for _, row in ipairs(rows) do
    for _, element in ipairs(row) do
      state[element.name] = {
        type = element.type,
        text = element.text,
        value = element.value,
        min = element.min,
        max = element.max,
        step = element.step,
        options = element.options,
        visible = element.visible ~= false,
      }
    end
  end
  return state
end

-- Fields of an element other than its kind, name and event methods.
local function plain_fields(element)
  local fields = {}
  for key, value in pairs(element) do
    if key ~= "type" and key ~= "name" and not key:match("^on%u") then
      fields[key] = value
    end
  end
  return fields
end

--- The rows as an export's `uiView`: `{{type = "horizontal", components = {{type, name, ...}}}}`
--- (the element fields kept; event methods live in `uiCallbacks`).
function M.to_view(rows)
  local view = {}
  for _, row in ipairs(rows) do
    local components = {}
    for _, element in ipairs(row) do
      local component = plain_fields(element)
      component.type, component.name = element.type, element.name
      components[#components + 1] = component
    end
    view[#view + 1] = { type = "horizontal", components = components }
  end
  return view
end

--- Rows back from an export's `uiView` and `uiCallbacks` (unknown shapes give no rows).
function M.from_view(view, callbacks)
  local methods = {}
  for _, callback in ipairs(callbacks or {}) do
    methods[callback.name] = methods[callback.name] or {}
    methods[callback.name][callback.eventType] = callback.callback
  end
  local rows = {}
  for _, row in ipairs(type(view) == "table" and view or {}) do
    local elements = {}
    for _, component in ipairs(type(row.components) == "table" and row.components or {}) do
      if KINDS[component.type] and component.name then
        local element = plain_fields(component)
        element.type, element.name = component.type, component.name
        for event, method in pairs(methods[component.name] or {}) do
          element[event] = method
        end
        elements[#elements + 1] = element
      end
    end
    if #elements > 0 then
      rows[#rows + 1] = elements
    end
  end
  return rows
end

--- A row as the header table `{button = 'b1', text = ..., onReleased = ...}` (or a list).
function M.to_header(row)
  local specs = {}
  for _, element in ipairs(row) do
    local spec = {}
    for key, value in pairs(element) do
      if key ~= "type" and key ~= "name" then
        spec[key] = value
      end
    end
    spec[element.type] = element.name
    specs[#specs + 1] = spec
  end
  return #specs == 1 and specs[1] or specs
end

--- Applies `updateView(element, field, value)`; false if there is no such element.
function M.update(state, element, field, value)
  local entry = state[element]
  if not entry then
    return false
  end
  entry[field] = value
  return true
end

return M
