-- plua.json: the original's module name for JSON: `encode` and `decode` are `_PY.to_json` and
-- `_PY.parse_json`.
return { encode = _PY.to_json, decode = _PY.parse_json }
