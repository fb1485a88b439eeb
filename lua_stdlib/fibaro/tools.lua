-- fibaro.tools: `plua -t TOOL args...` — `pack qa.lua [out.fqa]` (a valid export: files, UI,
-- variables, interfaces, uiCallbacks), `unpack x.fqa [dir]` (the files, and a main file whose
-- headers recreate the QA), and against a real HC3 (credentials as for online mode):
-- `uploadQA qa.lua|x.fqa`, `updateFile id file.lua [name]`, `updateQA id qa.lua`,
-- `downloadQA id [dir]`. A failure raises an error, so plua prints it and exits 1.

local fibaro = require("fibaro")
local fqa = require("fibaro.fqa")
local ui = require("fibaro.ui")
local online = require("fibaro.online")

local M = {}

-- A Lua literal for a header value (sorted keys, so output is stable).
local function literal(value)
  local kind = type(value)
  if kind == "string" then
    return ("%q"):format(value)
  elseif kind == "number" or kind == "boolean" or kind == "nil" then
    return tostring(value)
  elseif kind == "table" then
    local parts, n = {}, #value
    for i = 1, n do
      parts[#parts + 1] = literal(value[i])
    end
    local keys = {}
    for key in pairs(value) do
      if not (math.type(key) == "integer" and key >= 1 and key <= n) then
        keys[#keys + 1] = key
      end
    end
    table.sort(keys, function(a, b)
      return tostring(a) < tostring(b)
    end)
    for _, key in ipairs(keys) do
      local name = type(key) == "string" and key:match("^[%a_][%w_]*$") and key or ("[" .. literal(key) .. "]")
      parts[#parts + 1] = name .. "=" .. literal(value[key])
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error(("cannot write a %s into a header"):format(kind), 0)
end

local function write(path, text)
  local file = assert(io.open(path, "wb"))
  file:write(text)
  file:close()
end

-- The export for QA source `path` (`.lua` or `.fqa`).
local function export_of(path)
  local text = assert(fibaro.read(path))
  if path:match("%.fqa$") then
    assert(fqa.decode(text, path))
    return assert(_PY.parse_json(text))
  end
  local desc = assert(fibaro.describe_lua(path, text))
  local files = {}
  for _, file in ipairs(desc.files) do
    files[#files + 1] = { name = file.name, isMain = file.isMain, isOpen = false, type = "lua", content = file.content }
  end
  local vars = {}
  for _, var in ipairs(desc.vars) do
    vars[#vars + 1] = { name = var.name, value = var.value }
  end
  return {
    name = desc.name,
    type = desc.type or "com.fibaro.binarySwitch",
    apiVersion = "1.3",
    files = files,
    initialInterfaces = desc.interfaces or {},
    initialProperties = {
      quickAppVariables = vars,
      uiCallbacks = ui.callbacks(desc.ui_rows),
      uiView = ui.to_view(desc.ui_rows),
      viewLayout = { ["$jason"] = { head = { title = desc.name }, body = { sections = { items = {} } } } },
      typeTemplateInitialized = true,
    },
  }
end

--- Writes the export of `source` to `out`; returns the line that reports it.
function M.pack_to(source, out)
  out = out or source:gsub("%.lua$", "") .. ".fqa"
  write(out, _PY.pretty_print(export_of(source)))
  return ("packed %s -> %s"):format(source, out)
end

function M.pack(source, out)
  assert(source, "pack: usage: plua -t pack qa.lua [out.fqa]")
  print(M.pack_to(source, out))
end

-- Header lines that recreate the QA of export `export` (files named `<name>.lua` beside it).
local function headers_of(export)
  local initial = export.initialProperties or {}
  local lines = {
    "--%%name:" .. tostring(export.name),
    "--%%type:" .. tostring(export.type),
  }
  if export.initialInterfaces and #export.initialInterfaces > 0 then
    lines[#lines + 1] = "--%%interfaces:" .. literal(export.initialInterfaces)
  end
  for _, var in ipairs(initial.quickAppVariables or {}) do
    lines[#lines + 1] = ("--%%%%var:%s=%s"):format(var.name, literal(var.value))
  end
  for _, file in ipairs(export.files or {}) do
    if not file.isMain then
      lines[#lines + 1] = ("--%%%%file:%s.lua,%s"):format(file.name, file.name)
    end
  end
  for _, row in ipairs(ui.from_view(initial.uiView, initial.uiCallbacks)) do
    lines[#lines + 1] = "--%%u:" .. literal(ui.to_header(row))
  end
  return table.concat(lines, "\n") .. "\n"
end

-- Drops header lines from a main file's content (they are written anew).
local function without_headers(content)
  local kept = {}
  for line in (content .. "\n"):gmatch("([^\n]*)\n") do
    if not line:match("^%-%-%%%%") then
      kept[#kept + 1] = line
    end
  end
  return table.concat(kept, "\n")
end

local function unpack_export(export, dir, source)
  local desc = assert(fqa.decode(_PY.to_json(export), source))
  assert(desc.files, "no files")
  _PY.create_directory(dir)
  local main_name = tostring(export.name):gsub("[^%w_%-]", "_")
  for _, file in ipairs(export.files or { { name = "main", isMain = true, content = (export.initialProperties or {}).mainFunction } }) do
    if file.isMain then
      write(("%s/%s.lua"):format(dir, main_name), headers_of(export) .. without_headers(file.content or ""))
    else
      write(("%s/%s.lua"):format(dir, file.name), file.content or "")
    end
  end
  print(("unpacked %s -> %s/%s.lua"):format(source, dir, main_name))
end

function M.unpack(source, dir)
  assert(source, "unpack: usage: plua -t unpack x.fqa [dir]")
  local text = assert(fibaro.read(source))
  local export, err = _PY.parse_json(text)
  if type(export) ~= "table" then
    error(("%s: not valid JSON: %s"):format(source, tostring(err)), 0)
  end
  unpack_export(export, dir or ".", source)
end

-- One call to the configured HC3; raises on an error answer.
local function hc3(method, path, data)
  local result, status = online.forward(method, path, data)
  if type(status) ~= "number" or status >= 300 then
    local reason = type(result) == "table" and (result.reason or result.message) or tostring(result)
    error(("%s %s: HC3 answered %s: %s"):format(method, path, tostring(status), tostring(reason)), 0)
  end
  return result
end

function M.uploadQA(source)
  assert(source, "uploadQA: usage: plua -t uploadQA qa.lua|x.fqa")
  local device = hc3("POST", "/quickApp/", export_of(source))
  print(("uploaded %s as device %s"):format(source, tostring(type(device) == "table" and device.id or "?")))
end

function M.updateFile(id, path, name)
  assert(id and path, "updateFile: usage: plua -t updateFile <id> file.lua [name]")
  name = name or path:match("([^/\\]+)%.lua$")
  local content = assert(fibaro.read(path))
  hc3("PUT", ("/quickApp/%s/files/%s"):format(id, name), { name = name, isMain = name == "main", isOpen = false, type = "lua", content = content })
  print(("updated file %s of device %s"):format(name, id))
end

function M.updateQA(id, source)
  assert(id and source, "updateQA: usage: plua -t updateQA <id> qa.lua")
  local export = export_of(source)
  hc3("PUT", ("/quickApp/%s/files"):format(id), export.files)
  hc3("PUT", "/devices/" .. id, { properties = { quickAppVariables = export.initialProperties.quickAppVariables } })
  print(("updated device %s from %s"):format(id, source))
end

function M.downloadQA(id, dir)
  assert(id, "downloadQA: usage: plua -t downloadQA <id> [dir]")
  unpack_export(hc3("GET", "/quickApp/export/" .. id), dir or ".", "device " .. id)
end

--- Runs tool `name` with its arguments.
function M.run(name, ...)
  local tool = M[name]
  if type(tool) ~= "function" or name == "run" then
    error(("unknown tool '%s' (pack, unpack, uploadQA, updateFile, updateQA, downloadQA)"):format(tostring(name)), 0)
  end
  return tool(...)
end

return M
