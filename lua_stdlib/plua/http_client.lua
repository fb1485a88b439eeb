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
--
-- Streaming: with `chunk = fn(data, head)` in req, the body of a 2xx response is not collected
-- but handed to fn piece by piece as it arrives (`head` = { code, headers }), so a script can
-- follow an endless event stream or fetch more than fits in memory; the final result has an
-- empty body. `stream = true` without `chunk` hands the pieces to the callback instead, as
-- results with a `chunk` field, before the final result (no `chunk` field). A streamed request
-- has no timeout unless req.timeout is given. Pieces arrive in order; a chunk callback should
-- not yield (the next piece would start beside it).
--
-- _PY.http_download(url | req, path, cb, { progress = fn(received, total | nil) }) writes the
-- body to `path` (through `path .. ".part"`, renamed when complete, removed on failure) and
-- calls cb(true, { code, bytes, path, headers }, "") or cb(false, nil, message); without cb,
-- in a coroutine, it waits and returns the same values.

local M = {}

local type, tostring = type, tostring
local json_body = require("plua.json_body")
local raise = require("plua.checks").raise

function M.install(core, PY, shared)
  local callbacks, await, listeners = shared.callbacks, shared.await, shared.listeners

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
    if req.chunk ~= nil and type(req.chunk) ~= "function" then
      raise(("%s: bad argument #1 (field 'chunk': function expected, got %s)"):format(name, type(req.chunk)))
    end
    local stream = req.chunk ~= nil or req.stream == true
    return {
      url = req.url,
      method = type(req.method) == "string" and req.method:upper() or "GET",
      headers = headers,
      body = body,
      timeout = tonumber(req.timeout) or (not stream and 30 or nil),
      stream = stream,
      chunk = req.chunk,
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
    local op, message = core.http_request(req.method, req.url, req.headers, req.body, req.timeout,
      req.verify, req.cafile, req.stream)
    if not op then
      return setTimeout(done, 0, failure(req.url, message))
    end
    if req.stream then
      local head
      listeners[op] = {
        head = function(code, headers)
          head = { code = code, headers = setmetatable(headers, any_case) }
        end,
        chunk = function(data)
          if req.chunk then
            req.chunk(data, head)
          end
        end,
      }
    end
    callbacks[op] = function(ok, response, err)
      listeners[op] = nil
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
    if req.stream and not req.chunk then
      req.chunk = function(data, head)
        cb(shaped({ code = head.code, headers = head.headers, chunk = data, body = "", url = req.url }, true))
      end
    end
    start(req, 0, function(response)
      return cb(shaped(response, true))
    end)
  end

  function PY.http_download(url, path, cb, opts)
    local checks = require("plua.checks")
    if type(url) ~= "string" and type(url) ~= "table" then
      checks.bad("http_download", 1, "url string or request table", url)
    end
    path = checks.string("http_download", 2, path)
    if cb ~= nil and type(cb) ~= "function" then
      checks.bad("http_download", 3, "function", cb)
    end
    checks.fields("http_download", 4, opts, { progress = "function" })
    local progress = opts and opts.progress
    local req = normalize("http_download", url)
    local received, total, write_failed = 0, nil, nil
    local waiting
    if cb == nil then
      if not shared.can_wait() then
        raise("http_download: without a callback it must be called from a coroutine (a callback, the main chunk)")
      end
      waiting = { op = core.new_op() }
      cb = function(...)
        waiting.results = table.pack(...)
        core.post(waiting.op)
      end
    end
    local temp = path .. ".part"
    local file, problem = io.open(temp, "wb")
    if not file then
      setTimeout(cb, 0, false, nil, ("http_download: cannot write %s: %s"):format(temp, tostring(problem)))
    else
      req.stream = true
      req.chunk = function(data, head)
        if write_failed then
          return
        end
        total = total or tonumber(head.headers["content-length"])
        local ok, failed = file:write(data)
        if not ok then
          write_failed = failed
          return
        end
        received = received + #data
        if progress then
          progress(received, total)
        end
      end
      start(req, 0, function(response)
        file:close()
        local code = response.code
        local message = response.error_message
        if write_failed then
          message = ("cannot write %s: %s"):format(temp, tostring(write_failed))
        elseif code == 0 then
          message = message or "download failed"
        elseif code < 200 or code > 299 then
          message = ("HTTP Error %d"):format(code)
        else
          local renamed, rename_problem = os.rename(temp, path)
          if renamed then
            return cb(true, { code = code, bytes = received, path = path, headers = response.headers }, "")
          end
          message = ("cannot rename %s: %s"):format(temp, tostring(rename_problem))
        end
        os.remove(temp)
        return cb(false, nil, message)
      end)
    end
    if waiting then
      await(waiting.op)
      return table.unpack(waiting.results, 1, waiting.results.n)
    end
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
      local op, message = core.http_request(req.method, req.url, req.headers, req.body, req.timeout,
        req.verify, req.cafile, false)
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
