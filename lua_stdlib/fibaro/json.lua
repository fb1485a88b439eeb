-- fibaro.json: the hub's `json` module inside QuickApps, on plua's JSON (`_PY.to_json`,
-- `_PY.parse_json`): `encode` (control characters escaped, arrays kept as arrays, an empty
-- table is `[]` as on the hub), `decode` (raises on bad input, as on the hub),
-- `encodeFormated` (indented), and `initArray` / `util.InitArray` to mark a table as an array.

local PY = _PY
local to_json, parse_json, pretty = PY.to_json, PY.parse_json, PY.pretty_print

local json_array = PY.json_array

local json = { util = {} }

function json.encode(value)
  local ok, text = pcall(to_json, value)
  if not ok then
    error(("json.encode: %s"):format(tostring(text)), 2)
  end
  return text
end

function json.encodeFormated(value)
  local ok, text = pcall(pretty, value)
  if not ok then
    error(("json.encodeFormated: %s"):format(tostring(text)), 2)
  end
  return text
end
json.encodeFormatted = json.encodeFormated

function json.decode(text)
  if type(text) ~= "string" then
    error(("json.decode: bad argument #1 (string expected, got %s)"):format(type(text)), 2)
  end
  local value, err = parse_json(text)
  if err then
    error(("json.decode: %s"):format(err), 2)
  end
  return value
end

function json.initArray(t)
  return json_array(t or {})
end
json.util.InitArray = json.initArray

return json
