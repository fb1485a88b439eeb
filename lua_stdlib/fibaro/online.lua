-- fibaro.online: forwarding what the emulator does not handle to a real HC3. The hub is named
-- by `HC3_URL`, `HC3_USER`, `HC3_PASSWORD` (the environment or a `.env` file in the current
-- directory or its parents, or the `.plua.lua` keys `hc3_url`, `hc3_user`, `hc3_pass`). The
-- request goes out with Basic auth on plua's non-blocking HTTP client: only the calling
-- coroutine waits. No hub configured, or a hub that does not answer, is an error answer
-- (`{type = "ERROR", reason = ...}`, status 503) on that call; the QA keeps running.

local M = {}

local TIMEOUT = 10 -- seconds a forwarded call may take

local function setting(env_name, config_key)
  local value = _PY.get_env_var(env_name)
  if value and value ~= "" then
    return value
  end
  local ok, config = pcall(function()
    return _PY.pluaconfig
  end)
  if ok and type(config) == "table" and config[config_key] then
    return tostring(config[config_key])
  end
end

--- The configured hub as {url, user, password}, or nil and why not.
function M.hub()
  local url = setting("HC3_URL", "hc3_url")
  if not url then
    return nil, "no HC3 configured: set HC3_URL, HC3_USER and HC3_PASSWORD (environment, .env or .plua.lua)"
  end
  return {
    url = url:gsub("/+$", ""),
    user = setting("HC3_USER", "hc3_user") or "",
    password = setting("HC3_PASSWORD", "hc3_pass") or "",
  }
end

--- Forwards one API call; returns `data, status` as the hub answered.
function M.forward(method, path, data)
  local hub, why = M.hub()
  if not hub then
    return { type = "ERROR", reason = why }, 503
  end
  local body = nil
  if data ~= nil and method ~= "GET" then
    body = _PY.to_json(data)
  end
  local response = _PY.http_request_sync({
    url = hub.url .. "/api" .. path,
    method = method,
    headers = {
      Authorization = "Basic " .. _PY.base64_encode(hub.user .. ":" .. hub.password),
      ["Content-Type"] = "application/json",
      Accept = "application/json",
    },
    body = body,
    timeout = TIMEOUT,
  })
  if response.error and (response.code or 0) == 0 then
    return { type = "ERROR", reason = ("HC3 at %s: %s"):format(hub.url, tostring(response.error_message)) }, 503
  end
  local decoded = nil
  if response.body and response.body ~= "" then
    decoded = _PY.parse_json(response.body)
    if decoded == nil then
      decoded = response.body
    end
  end
  return decoded, response.code
end

return M
