-- fibaro.qa: one running QuickApp — its device, its own environment table holding the HC3
-- globals, its files, UI state and the queue its actions and UI events wait in. A QA is made
-- from a description (from headers or an `.fqa` export: name, type, files, variables, UI),
-- its files run in order (other files first, the main file last), then `QuickApp(device)`
-- runs `onInit`. Errors while loading or in `onInit` are logged with file:line; the process
-- keeps running.

local devices = require("fibaro.devices")
local ui = require("fibaro.ui")
local log = require("fibaro.log")
local clock = require("fibaro.clock")
local events = require("fibaro.events")

local QA = {}
QA.__index = QA

local M = {}

-- The globals every QA shares (standard Lua, plua's libraries); a QA's own globals shadow them.
-- `net` and `mqtt` (the hub's globals) are required on first use: they load the socket
-- families.
local LAZY = { net = "net", mqtt = "mqtt" }
local function base_env()
  local base = setmetatable({}, {
    __index = function(_, key)
      local module = LAZY[key]
      if module then
        return require(module)
      end
      return _G[key]
    end,
  })
  base.os = clock.os_table()
  return base
end

--- A QA context for `desc` = {name, type, files = {{name, content, isMain, path}}, vars,
--- ui_rows, interfaces, properties, id}, using `router` for its `api`.
function M.new(desc, router)
  local rows = desc.ui_rows or {}
  local record = devices.create({
    id = desc.id,
    name = desc.name,
    type = desc.type,
    interfaces = desc.interfaces,
    properties = desc.properties,
    quickAppVariables = desc.vars or {},
    uiCallbacks = desc.uiCallbacks or ui.callbacks(rows),
    viewLayout = desc.viewLayout,
    uiView = desc.uiView or ui.to_view(rows),
  })
  local qa = setmetatable({
    id = record.id,
    name = record.name,
    device = record,
    files = desc.files,
    desc = desc,
    router = router,
    rows = rows,
    view_state = ui.initial_state(rows),
    queue = {},
    busy = false,
  }, QA)
  devices.attach(record.id, qa)
  qa:make_env()
  return qa
end

--- Builds the QA's environment table with the SDK.
function QA:make_env()
  local env = setmetatable({}, { __index = base_env() })
  env._G = env
  env._ENV = env
  env.__TAG = ("QUICKAPP%d"):format(self.id)
  local class = require("fibaro.class")
  env.class = class.make(env)
  env.property = class.property
  env.json = require("fibaro.json")
  require("fibaro.sdk").install(env, self)
  require("fibaro.quickapp").install(env, self)
  require("fibaro.subscriber").install(env, self)
  self.env = env
end

--- Runs the QA: loads its files, then creates the QuickApp instance (which runs `onInit`).
function QA:start()
  local env = self.env
  local ordered = {}
  for _, file in ipairs(self.files) do
    if not file.isMain then
      ordered[#ordered + 1] = file
    end
  end
  for _, file in ipairs(self.files) do
    if file.isMain then
      ordered[#ordered + 1] = file
    end
  end
  for _, file in ipairs(ordered) do
    local chunk, err = load(file.content, "@" .. (file.path or file.name), "t", env)
    if not chunk then
      self.log_error(err)
      return false
    end
    if not self.guarded(chunk) then
      return false
    end
  end
  local device = devices.copy(devices.get(self.id))
  return self.guarded(function()
    env.QuickApp(device)
  end)
end

--- Queues `handler(...)` (a global of the QA's environment such as `onAction`, or a function)
--- to run after the running handler: one at a time, in a task coroutine of their own. The queue
--- is `{head = n, tail = m, [n..m] = item}` (taking from the front stays O(1) when thousands
--- of API calls wait).
function QA:post(handler, ...)
  local queue = self.queue
  local tail = (queue.tail or 0) + 1
  queue[tail] = { handler = handler, args = table.pack(...) }
  queue.tail = tail
  if not self.busy then
    self.busy = true
    setTimeout(self.run_next, 0, self)
  end
end

-- One turn of the loop runs queued items for up to this much CPU time (then the server and the
-- timers get their turn): one item per turn falls behind when API calls arrive by thousands.
local BATCH_SECONDS = 0.002
local BATCH_ITEMS = 64

function QA.run_next(qa)
  local started, count = os.clock(), 0
  repeat
    local queue = qa.queue -- (a restart replaces it)
    local head = queue.head or 1
    local item = queue[head]
    if not item then
      queue.head, queue.tail = nil, nil
      qa.busy = false
      return
    end
    queue[head] = nil
    queue.head = head + 1
    local handler = item.handler
    if type(handler) == "string" then
      handler = qa.env[handler]
    end
    if type(handler) == "function" then
      qa.guarded(handler, table.unpack(item.args, 1, item.args.n))
    end
    count = count + 1
  until count >= BATCH_ITEMS or os.clock() - started >= BATCH_SECONDS
  setTimeout(QA.run_next, 0, qa)
end

--- `updateView` on device `id` (the QA or a child): records the state and emits the hub's
--- `PluginChangedViewEvent` (the API server's WebSocket pushes these as `ui_update`).
function QA:update_view(id, element, field, value)
  if id == self.id then
    ui.update(self.view_state, element, field, value)
  end
  events.add({
    type = "PluginChangedViewEvent",
    data = { deviceId = id, componentName = element, propertyName = field, newValue = value },
  })
end

--- The UI of the QA: its rows and their current state.
function QA:view(id)
  if id ~= self.id then
    return { rows = {}, state = {} }
  end
  return { rows = self.rows, state = self.view_state }
end

--- `plugin.restart`: the QA starts over in a fresh environment (its device stays).
function QA:restart()
  log.write("TRACE", self.env.__TAG, "restarting")
  setTimeout(function()
    self.queue = {}
    self:make_env()
    self:start()
  end, 0)
end

return M
