-- plua.router: routes of a script's web server, `(method, pattern) -> handler`, for
-- `net.HTTPServer():route/get/post/put/delete` and `_PY.add_route`.
--
-- A pattern is a path whose segments are literal (`/devices`), a parameter (`{id}`, which
-- matches one non-empty segment and lands percent-decoded in `req.params.id`), or a final `*`
-- (the rest of the path, possibly empty, in `req.params["*"]`). Literal routes are found by one
-- table lookup; the others are tried in the order they were added. Method `*` matches any
-- method; a HEAD request uses the GET route when there is no HEAD one.
--
-- router:dispatch(req, res) answers a request: the route's handler(req, res) with its return
-- values (`status, body, headers`), a 405 JSON with `Allow` when the path has routes for other
-- methods only, and a 404 JSON (`{"error":"not found","path":...}`) when no route matches;
-- router:match(method, path) returns the handler and parameters (or nil and the allowed
-- methods).

local M = {}

local type, pairs, concat, sort = type, pairs, table.concat, table.sort
local checks = require("plua.checks")

local Router = {}
Router.__index = Router

--- A router with no routes.
function M.new()
  return setmetatable({ exact = {}, patterns = {}, count = 0 }, Router)
end

local function decode(text)
  return (text:gsub("%%(%x%x)", function(hex)
    return string.char(tonumber(hex, 16))
  end))
end

local function split(path)
  local segments = {}
  for segment in path:gmatch("[^/]+") do
    segments[#segments + 1] = segment
  end
  return segments
end

-- A pattern with parameters as a list of { literal = "x" } / { param = "id" } / { rest = true }.
local function compile(name, pattern)
  local parts, dynamic = {}, false
  local segments = split(pattern)
  for index, segment in ipairs(segments) do
    local param = segment:match("^{([%w_]+)}$")
    if param then
      parts[#parts + 1] = { param = param }
      dynamic = true
    elseif segment == "*" and index == #segments then
      parts[#parts + 1] = { rest = true }
      dynamic = true
    elseif segment:find("[{}]") then
      checks.raise(("%s: bad argument #2 (segment '%s': a parameter is written {name})"):format(name, segment))
    else
      parts[#parts + 1] = { literal = segment }
    end
  end
  return dynamic and parts or nil
end

-- "/a//b/" and "/a/b" are one route.
local function normal(path)
  return "/" .. concat(split(path), "/")
end

--- Adds a route; `name` is the caller for argument errors.
function Router:add(method, pattern, handler, name)
  name = name or "route"
  method = checks.string(name, 1, method):upper()
  pattern = checks.string(name, 2, pattern)
  if type(handler) ~= "function" then
    checks.bad(name, 3, "function", handler)
  end
  if pattern:sub(1, 1) ~= "/" then
    checks.raise(("%s: bad argument #2 (pattern must start with '/', got '%s')"):format(name, pattern))
  end
  local parts = compile(name, pattern)
  if not parts then
    local key = normal(pattern)
    local methods = self.exact[key] or {}
    methods[method] = handler
    self.exact[key] = methods
  else
    local key = normal(pattern)
    local entry
    for _, candidate in ipairs(self.patterns) do
      if candidate.key == key then
        entry = candidate
      end
    end
    if not entry then
      entry = { key = key, parts = parts, methods = {} }
      self.patterns[#self.patterns + 1] = entry
    end
    entry.methods[method] = handler
  end
  self.count = self.count + 1
end

-- The parameters if `segments` fit `parts`, else nil.
local function fit(parts, segments)
  local params = {}
  for index, part in ipairs(parts) do
    if part.rest then
      params["*"] = concat(segments, "/", index)
      return params
    end
    local segment = segments[index]
    if segment == nil then
      return nil
    end
    if part.param then
      params[part.param] = decode(segment)
    elseif part.literal ~= segment then
      return nil
    end
  end
  if #segments ~= #parts then
    return nil
  end
  return params
end

local function pick(methods, method)
  return methods[method] or (method == "HEAD" and methods.GET) or methods["*"]
end

local function allowed(methods, into)
  for method in pairs(methods) do
    if method ~= "*" then
      into[method] = true
      if method == "GET" then
        into.HEAD = true
      end
    end
  end
end

--- The handler and parameters for a request; nil and the allowed methods (a list, empty if
--- no route has this path).
function Router:match(method, path)
  local allow = {}
  local methods = self.exact[path] or self.exact[normal(path)]
  if methods then
    local handler = pick(methods, method)
    if handler then
      return handler, {}
    end
    allowed(methods, allow)
  end
  if #self.patterns > 0 then
    local segments = split(path)
    for _, entry in ipairs(self.patterns) do
      local params = fit(entry.parts, segments)
      if params then
        local handler = pick(entry.methods, method)
        if handler then
          return handler, params
        end
        allowed(entry.methods, allow)
      end
    end
  end
  local list = {}
  for name in pairs(allow) do
    list[#list + 1] = name
  end
  sort(list)
  return nil, list
end

--- True if no route was added.
function Router:is_empty()
  return self.count == 0
end

--- Answers `req` by its route; `fallback(req, res)` (if given) answers what no route matches
--- instead of the 404.
function Router:dispatch(req, res, fallback)
  local handler, params = self:match(req.method, req.path)
  if handler then
    req.params = params
    return handler(req, res)
  end
  if #params > 0 then
    local allow = concat(params, ", ")
    return 405, { error = "method not allowed", method = req.method, allow = params }, { Allow = allow }
  end
  if fallback then
    return fallback(req, res)
  end
  return 404, { error = "not found", path = req.path }
end

return M
