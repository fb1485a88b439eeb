-- plua.http_client: `_PY.http_request_async(url | req, cb)` and `_PY.http_request_sync(url | req)`
-- on the reactor-native HTTP client (src/http/client.rs). Hundreds of requests can be in flight
-- without threads; an in-flight request keeps the process alive until its callback ran.
--
-- req = { url, method = "GET", headers = {}, body = string | table (sent as JSON),
--         timeout = 30 (s), redirect = true, maxredirects = 5, verify = true,
--         cafile = "ca.pem" (extra CA to trust) }
-- result = { code, headers = {lower-case = value}, body, url }, or on a network failure
--          { code = 0, headers = {}, body = "", url, error = true, error_message = "..." }.
-- Every HTTP status (also 4xx/5xx) is a result, not a raised error. As in the original, a
-- 4xx/5xx result has `error = true` and `error_message = "HTTP Error <code>"`, a success seen
-- by an async callback has `error = false, error_message = ""` (a sync success leaves both
-- nil), and `headers` answers any letter case (`headers["Content-Type"]`); `pairs` gives each
-- header once, under its lower-case name (http_request_blocking_pool keeps the plain shape).

local M = {}

local type, tostring = type, tostring
local json_body = require("plua.json_body")
local raise = require("plua.checks").raise

function M.install(core, PY, shared)
  local callbacks, await = shared.callbacks, shared.await

  local function normalize(name, req)
    if type(req) == "string" then
      req = { url = req }
    elseif type(req) ~= "table" then
      raise(("%s: bad argument #1 (url string or request table expected, got %s)"):format(name, type(req)))
    end
    if type(req.url) ~= "string" then
      raise(("%s: bad argument #1 (field 'url': string expected, got %s)"):format(name, type(req.url)))
    end
    local headers = {}
    if req.headers ~= nil then
      if type(req.headers) ~= "table" then
        raise(("%s: bad argument #1 (field 'headers': table expected, got %s)"):format(name, type(req.headers)))
      end
      for key, value in pairs(req.headers) do
        headers[tostring(key)] = tostring(value)
      end
    end
    local body = req.body
    if type(body) == "table" then
      body, headers = json_body(PY.to_json, body, headers)
    elseif body ~= nil and type(body) ~= "string" then
      body = tostring(body)
    end
    return {
      url = req.url,
      method = type(req.method) == "string" and req.method:upper() or "GET",
      headers = headers,
      body = body,
      timeout = tonumber(req.timeout) or 30,
      redirect = req.redirect ~= false,
      maxredirects = math.tointeger(tonumber(req.maxredirects)) or 5,
      verify = req.verify ~= false,
      cafile = type(req.cafile) == "string" and req.cafile or nil,
    }
  end

  -- Header lookup in any letter case; the keys stay lower-case, one per header.
  local any_case = {
    __index = function(headers, key)
      if type(key) == "string" then
        return rawget(headers, key:lower())
      end
    end,
  }

  local function failure(url, message)
    return {
      code = 0,
      headers = setmetatable({}, any_case),
      body = "",
      url = url,
      error = true,
      error_message = message,
    }
  end

  -- The original's result shape (see the header comment); `async` for a callback's table.
  local function shaped(response, async)
    if type(response.headers) == "table" and getmetatable(response.headers) == nil then
      setmetatable(response.headers, any_case)
    end
    local code = response.code
    if response.error == nil then
      if type(code) == "number" and code >= 400 then
        response.error, response.error_message = true, ("HTTP Error %d"):format(code)
      elseif async then
        response.error, response.error_message = false, ""
      end
    end
    return response
  end

  -- Starts one hop; `done(result)` gets the final result after redirects.
  local function start(req, hops, done)
    local op, message =
      core.http_request(req.method, req.url, req.headers, req.body, req.timeout, req.verify, req.cafile)
    if not op then
      return setTimeout(done, 0, failure(req.url, message))
    end
    callbacks[op] = function(ok, response, err)
      if not ok then
        return done(failure(req.url, err))
      end
      local location = response.headers.location
      local code = response.code
      if req.redirect and location and (code == 301 or code == 302 or code == 303 or code == 307 or code == 308) then
        if hops >= req.maxredirects then
          return done(failure(req.url, ("too many redirects (more than %d)"):format(req.maxredirects)))
        end
        local next_req = {}
        for key, value in pairs(req) do
          next_req[key] = value
        end
        next_req.url = core.url_join(req.url, location) or location
        if code == 303 or ((code == 301 or code == 302) and req.method == "POST") then
          next_req.method, next_req.body = "GET", nil
        end
        return start(next_req, hops + 1, done)
      end
      return done(response)
    end
  end

  function PY.http_request_async(req, cb)
    req = normalize("http_request_async", req)
    if cb ~= nil and type(cb) ~= "function" then
      raise(("http_request_async: bad argument #2 (function expected, got %s)"):format(type(cb)))
    end
    cb = cb or function() end
    start(req, 0, function(response)
      return cb(shaped(response, true))
    end)
  end

  -- The same request run by `ureq` on the worker pool (for blocking work that must not sit
  -- on the reactor); no redirects beyond what ureq follows itself.
  function PY.http_request_blocking_pool(req, cb)
    req = normalize("http_request_blocking_pool", req)
    if cb ~= nil and type(cb) ~= "function" then
      raise(("http_request_blocking_pool: bad argument #2 (function expected, got %s)"):format(type(cb)))
    end
    cb = cb or function() end
    local op, message =
      core.http_blocking(req.method, req.url, req.headers, req.body, req.timeout, req.verify, req.cafile)
    if not op then
      return setTimeout(cb, 0, failure(req.url, message))
    end
    callbacks[op] = function(ok, response, err)
      cb(ok and response or failure(req.url, err))
    end
  end

  function PY.http_request_sync(req)
    req = normalize("http_request_sync", req)
    if not shared.can_wait() then
      -- Nowhere to yield to: block on this one request (no redirects are followed here).
      local op, message =
        core.http_request(req.method, req.url, req.headers, req.body, req.timeout, req.verify, req.cafile)
      if not op then
        return failure(req.url, message)
      end
      local ok, response, err = core.block_on(op, req.timeout)
      return shaped(ok and response or failure(req.url, err), false)
    end
    local op = core.new_op()
    local result
    start(req, 0, function(response)
      result = response
      core.post(op)
    end)
    await(op)
    return shaped(result, false)
  end
end

return M
