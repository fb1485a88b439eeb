-- plua.http_response: the `res` object a server handler gets as its second argument, for
-- responses sent piece by piece (chunked to HTTP/1.1 clients), such as Server-Sent Events:
--
--   res:start(status = 200, headers)  sends the status and headers; nil, "closed" if the
--                                     client is gone
--   res:write(chunk)                  sends a piece (starting with 200 if need be); waits while
--                                     a slow client has more than 256 KiB unread; true, or
--                                     nil, "closed" once the client went away
--   res:finish([chunk])               sends the last piece and ends the response
--   res:on_close(fn)                  fn() runs once if the client goes away before the end
--   res.closed                        true once the client is gone
--
-- A handler that started a response owns it until res:finish(): returning does not end it,
-- so a timer or another task may go on writing (an SSE fan-out keeps `res` in a list).
-- stream(res, fn) is how a handler that returns a function is answered: fn() is called for
-- each piece until it returns nil or false; it may yield (sleep, wait on a socket) between
-- pieces.

local M = {}

local type, tostring, pairs = type, tostring, pairs

function M.install(core, await, report_error)
  local stream_start, stream_write = core.http_stream_start, core.http_stream_write
  local stream_wait = core.http_stream_wait

  -- Open streams by connection and sequence number, to tell them their client is gone.
  local open = {}

  local Response = {}
  Response.__index = Response

  local function forget(res)
    local by_seq = open[res.conn]
    if by_seq then
      by_seq[res.seq] = nil
      if next(by_seq) == nil then
        open[res.conn] = nil
      end
    end
  end

  -- The client went away: mark the response and run its close callbacks once.
  local function gone(res)
    if res.closed then
      return
    end
    res.closed = true
    forget(res)
    local callbacks = res.close_callbacks
    res.close_callbacks = nil
    if callbacks then
      for _, fn in ipairs(callbacks) do
        local ok, problem = pcall(fn)
        if not ok then
          report_error("on_close", "", tostring(problem))
        end
      end
    end
  end

  local function string_headers(headers)
    if type(headers) ~= "table" then
      return nil
    end
    local out = {}
    for name, value in pairs(headers) do
      out[tostring(name)] = tostring(value)
    end
    return out
  end

  function Response:start(status, headers)
    if self.closed then
      return nil, "closed"
    end
    if self.started then
      return true
    end
    status = math.tointeger(status) or 200
    if status < 100 or status > 999 then
      status = 500
    end
    self.started = true
    if not stream_start(self.conn, self.seq, status, string_headers(headers)) then
      gone(self)
      return nil, "closed"
    end
    local by_seq = open[self.conn]
    if not by_seq then
      by_seq = {}
      open[self.conn] = by_seq
    end
    by_seq[self.seq] = self
    return true
  end

  local function send(res, chunk, last)
    if res.finished then
      return nil, "finished"
    end
    if not res.started then
      local ok, problem = res:start(200)
      if not ok then
        return nil, problem
      end
    end
    if res.closed then
      return nil, "closed"
    end
    if chunk ~= nil and type(chunk) ~= "string" then
      chunk = tostring(chunk)
    end
    local queued = stream_write(res.conn, res.seq, chunk, last)
    if queued == nil then
      gone(res)
      return nil, "closed"
    end
    if last then
      res.finished = true
      forget(res)
    elseif queued == false then
      -- The client reads slowly: wait until most of what is queued has gone.
      local op = stream_wait(res.conn)
      if op then
        local ok = await(op)
        if ok == false then
          gone(res)
          return nil, "closed"
        end
      end
    end
    return true
  end

  function Response:write(chunk)
    return send(self, chunk, false)
  end

  function Response:finish(chunk)
    return send(self, chunk, true)
  end

  function Response:on_close(fn)
    if type(fn) ~= "function" then
      require("plua.checks").bad("res:on_close", 1, "function", fn)
    end
    if self.closed then
      return self
    end
    local callbacks = self.close_callbacks or {}
    callbacks[#callbacks + 1] = fn
    self.close_callbacks = callbacks
    return self
  end

  local R = {}

  --- A response object for request `seq` of connection `conn`.
  function R.new(conn, seq)
    return setmetatable({ conn = conn, seq = seq, started = false, finished = false, closed = false }, Response)
  end

  --- The client of an open stream went away (the server's `stream_closed` event).
  function R.closed(conn, seq)
    local by_seq = open[conn]
    local res = by_seq and by_seq[seq]
    if res then
      gone(res)
    end
  end

  --- Answers with the pieces `producer()` returns, then ends the response.
  function R.stream(res, status, producer, headers)
    if not res:start(status, headers) then
      return
    end
    while not res.closed do
      local chunk = producer()
      if chunk == nil or chunk == false then
        res:finish()
        return
      end
      if not res:write(chunk) then
        return
      end
    end
  end

  return R
end

return M
