-- fibaro.fqa: QuickApp exports (`.fqa`, JSON) to QA descriptions and back. Every apiVersion:
-- `files[]` with `isMain`, and older exports whose code is `initialProperties.mainFunction`
-- with no `files[]`. Variables may be strings, numbers, `null` or JSON values, optionally with
-- `"type": "password"`; `uiCallbacks`, `viewLayout` and `uiView` are kept. A file that is not
-- valid JSON is a clear error naming the file.

local M = {}

-- The QA description of the decoded export table `export`; raises on a malformed one.
local function describe(export, path)
  local initial = export.initialProperties or {}
  local files = {}
  for _, file in ipairs(export.files or {}) do
    files[#files + 1] = {
      name = file.name, content = file.content or "", isMain = file.isMain == true,
      path = ("%s#%s"):format(path, file.name),
    }
  end
  if #files == 0 and initial.mainFunction then
    files[1] = { name = "main", content = initial.mainFunction, isMain = true, path = path .. "#main" }
  end
  if #files == 0 then
    return nil, ("%s: the export holds no code (no files[] and no mainFunction)"):format(path)
  end
  local vars = {}
  for _, var in ipairs(initial.quickAppVariables or {}) do
    vars[#vars + 1] = { name = var.name, value = var.value, type = var.type }
  end
  return {
    name = export.name or path:match("([^/]+)%.fqa$"),
    type = export.type,
    files = files,
    vars = vars,
    interfaces = export.initialInterfaces,
    uiCallbacks = initial.uiCallbacks,
    ui_rows = require("fibaro.ui").from_view(initial.uiView, initial.uiCallbacks),
    viewLayout = initial.viewLayout,
    uiView = initial.uiView,
    properties = { apiVersion = export.apiVersion, manufacturer = initial.manufacturer, model = initial.model },
  }
end

--- The QA description in the `.fqa` text `text` read from `path`, or nil and a message.
function M.decode(text, path)
  local export, err = _PY.parse_json(text)
  if type(export) ~= "table" then
    local line = err and err:match("line (%d+)")
    return nil, ("%s: not valid JSON%s"):format(path, line and (" at line " .. line) or (err and (": " .. err) or ""))
  end
  -- Valid JSON of the wrong shape (a string where `files` should be, a uiView row without a
  -- name, ...) is a message naming the file, never an error from deep inside the loader.
  local ok, qa, why = pcall(describe, export, path)
  if not ok then
    return nil, ("%s: not a QuickApp export (%s)"):format(path, (tostring(qa):gsub("^[^:]*:%d+: ", "")))
  end
  return qa, why
end

--- The export of running QA `qa` (the hub's `/quickApp/export/{id}` shape).
function M.export(qa)
  local record = require("fibaro.devices").get(qa.id)
  local files = {}
  for _, file in ipairs(qa.files) do
    files[#files + 1] = { name = file.name, isMain = file.isMain == true, isOpen = false, type = "lua", content = file.content }
  end
  local interfaces = {}
  for _, name in ipairs(record.interfaces) do
    if name ~= "quickApp" then
      interfaces[#interfaces + 1] = name
    end
  end
  return {
    name = record.name,
    type = record.type,
    apiVersion = "1.3",
    files = files,
    initialInterfaces = interfaces,
    initialProperties = {
      quickAppVariables = record.properties.quickAppVariables or {},
      uiCallbacks = record.properties.uiCallbacks or {},
      viewLayout = record.properties.viewLayout or {},
      uiView = require("fibaro.ui").to_view(qa.rows),
      typeTemplateInitialized = true,
    },
  }
end

return M
