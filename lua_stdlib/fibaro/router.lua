-- fibaro.router: `_PY.fibaroapi(method, path, data)` → `(data, status)`, the in-process HC3 REST
-- API that a QA's `api.*` calls and (later) the embedded API server answer through. Routes are
-- patterns with typed path variables (`/devices/{id:number}/action/{name}`); the query string
-- is decoded into a table. What no route handles goes to the fallback: the offline HC3 answers
-- 501, online mode forwards to the real hub. A Lua error in a route is a 500 with its message.
-- Routes are kept by segment count and first segment, so a call tries only the routes that can
-- match it (the API server answers every `/api/*` request through here).

local M = {}

local find, sub = string.find, string.sub

-- Segment count -> {any = routes whose first segment is a variable, by_first = {literal ->
-- those routes and the ones starting with that literal}}, each list in the order added.
local buckets = {}
local fallback = function(method, path)
  return { type = "ERROR", reason = ("%s %s is not emulated"):format(method, path) }, 501
end

local function split(path)
  local parts, n, pos = {}, 0, 1
  while true do
    local first, last = find(path, "[^/]+", pos)
    if not first then
      return parts, n
    end
    n = n + 1
    parts[n] = sub(path, first, last)
    pos = last + 1
  end
end

local function unescape(text)
  text = text:gsub("+", " ")
  return (text:gsub("%%(%x%x)", function(hex)
    return string.char(tonumber(hex, 16))
  end))
end

--- The query string `a=1&b=x` as a table (numbers stay text; repeated keys keep the last).
function M.decode_query(query)
  local result = {}
  if query == nil or query == "" then
    return result
  end
  for pair in (query or ""):gmatch("[^&]+") do
    local key, value = pair:match("^([^=]*)=?(.*)$")
    if key and key ~= "" then
      result[unescape(key)] = unescape(value)
    end
  end
  return result
end

--- Adds a route: `method` ("GET", ...), `pattern` with `{name}` / `{name:number}` parts, and
--- `handler(params, query, data, method, path)` returning `data, status` (status 200 if nil).
function M.add(method, pattern, handler)
  local segments = {}
  for _, part in ipairs(split(pattern)) do
    local name, kind = part:match("^{([%w_]+):?(%a*)}$")
    if name then
      segments[#segments + 1] = { name = name, kind = kind ~= "" and kind or "string" }
    else
      segments[#segments + 1] = { literal = part }
    end
  end
  local route = { method = method, segments = segments, handler = handler }
  local bucket = buckets[#segments]
  if not bucket then
    bucket = { any = {}, by_first = {} }
    buckets[#segments] = bucket
  end
  local first = segments[1] and segments[1].literal
  if first then
    local list = bucket.by_first[first]
    if not list then
      list = table.move(bucket.any, 1, #bucket.any, 1, {})
      bucket.by_first[first] = list
    end
    list[#list + 1] = route
  else
    bucket.any[#bucket.any + 1] = route
    for _, list in pairs(bucket.by_first) do
      list[#list + 1] = route
    end
  end
end

local forward_not_found = false

--- Where unhandled requests go: `fn(method, path, data)` → `data, status`. With
--- `not_found_too` (online mode), a local route's 404 (a device the emulator does not have)
--- goes there as well.
function M.set_fallback(fn, not_found_too)
  fallback = fn
  forward_not_found = not_found_too == true
end

-- The params of `route` for the (unescaped) path segments `parts`, or nil if it does not match.
local function match(route, parts)
  local params = {}
  for i, segment in ipairs(route.segments) do
    local part = parts[i]
    if segment.literal then
      if segment.literal ~= part then
        return nil
      end
    elseif segment.kind == "number" then
      local number = tonumber(part)
      if not number then
        return nil
      end
      params[segment.name] = number
    else
      params[segment.name] = part
    end
  end
  return params
end

--- Text safe to put into a JSON answer (invalid UTF-8 from a request path is escaped).
function M.printable(text)
  text = tostring(text)
  if utf8.len(text) then
    return text
  end
  return (text:gsub("[\128-\255]", function(c)
    return ("\\x%02x"):format(c:byte())
  end))
end

--- Wraps a handler that reads fields of a JSON object body: any other body is a 400.
function M.with_body(handler)
  return function(params, query, data, ...)
    if type(data) ~= "table" then
      return { type = "ERROR", reason = "a JSON object body is expected" }, 400
    end
    return handler(params, query, data, ...)
  end
end

local function failure(err)
  return { type = "ERROR", reason = tostring(err) }, 500
end

--- Counts calls that may change state (every method but GET), before and after each, so a
--- cached GET answer (the API server's) is known to be current while it is unchanged.
M.version = 0

local answer

--- Answers one request. `path` may start with `/api` and carry a query string.
function M.call(method, path, data)
  method = tostring(method):upper()
  if method == "GET" then
    return answer(method, path, data)
  end
  M.version = M.version + 1
  local result, status = answer(method, path, data)
  M.version = M.version + 1
  return result, status
end

function answer(method, path, data)
  path = tostring(path)
  local clean, query = path, ""
  local mark = find(path, "?", 1, true)
  if mark then
    clean, query = sub(path, 1, mark - 1), sub(path, mark + 1)
  end
  if sub(clean, 1, 5) == "/api/" then
    clean = sub(clean, 5)
  elseif clean == "/api" then
    clean = "/"
  end
  local parts, count = split(clean)
  for i = 1, count do
    if find(parts[i], "[%%+]") then
      parts[i] = unescape(parts[i])
    end
  end
  local bucket = buckets[count]
  local candidates = bucket and (bucket.by_first[parts[1] or ""] or bucket.any) or {}
  local method_known = false
  for _, route in ipairs(candidates) do
    local params = match(route, parts)
    if params then
      if route.method == method then
        local ok, result, status = xpcall(route.handler, debug.traceback, params, M.decode_query(query), data, method, clean)
        if not ok then
          return failure(result)
        end
        if status == 404 and forward_not_found then
          method_known = false
          break
        end
        return result, status or 200
      end
      method_known = true
    end
  end
  if method_known then
    return { type = "ERROR", reason = ("method %s not allowed on %s"):format(method, clean) }, 405
  end
  local ok, result, status = xpcall(fallback, debug.traceback, method, clean .. (query ~= "" and ("?" .. query) or ""), data)
  if not ok then
    return failure(result)
  end
  return result, status
end

return M
