-- plua.json_body: how the HTTP client and server send a table body: as JSON, with
-- `Content-Type: application/json` unless the headers already name a content type.

local type, pairs = type, pairs

--- Returns `body` encoded with `to_json` and the headers (a new table when `headers` is nil)
--- carrying the content type.
return function(to_json, body, headers)
  headers = headers or {}
  for name in pairs(headers) do
    if type(name) == "string" and name:lower() == "content-type" then
      return to_json(body), headers
    end
  end
  headers["Content-Type"] = "application/json"
  return to_json(body), headers
end
