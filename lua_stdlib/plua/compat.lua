-- plua.compat: the `_PY` names the original plua had that plua's own families do not cover:
-- its runtime report, its "is anything still running" queries, the `http_request` alias, the
-- ready check of a TCP server, the blocking reads and writes on a server's clients, and the
-- printed extension list. Each keeps the original's arguments and return values; what differs
-- is listed in README.md ("Compatibility with the original").
--
--   _PY.get_python_version()                 -> "plua <version> (Rust)" (no Python inside)
--   _PY.has_active_network_operations()      -> TCP/UDP sockets or HTTP requests open
--   _PY.has_active_tcp_server_operations()   -> a TCP server exists
--   _PY.has_active_websocket_operations()    -> a WebSocket connection is open or opening
--   _PY.has_active_websocket_server_operations()
--   _PY.http_request(url | req)              -> as http_request_sync
--   _PY.tcp_server_is_ready(id)              -> the server is listening
--   _PY.tcp_server_write_sync(client, data)  -> true, msg | false, msg
--   _PY.tcp_server_read_sync(client, max)    -> true, data, msg | false, nil, msg
--   _PY.list_extensions()                    -> prints every `_PY` name by family and the
--                                               embedded modules; returns the names

local M = {}

local ipairs, select = ipairs, select

function M.install(core, PY, shared)
  local checks = require("plua.checks")
  local want_id, want_string, want_number = checks.id, checks.string, checks.number
  local await = shared.await

  function PY.get_python_version()
    return ("plua %s (Rust)"):format(PY.version)
  end

  local function active(...)
    local counts = core.net_activity()
    for i = 1, select("#", ...) do
      if counts[select(i, ...)] > 0 then
        return true
      end
    end
    return false
  end

  function PY.has_active_network_operations()
    return active("tcp", "udp", "http")
  end

  function PY.has_active_tcp_server_operations()
    return active("tcp_servers")
  end

  function PY.has_active_websocket_operations()
    return active("websocket")
  end

  function PY.has_active_websocket_server_operations()
    return active("websocket_servers")
  end

  function PY.http_request(req)
    return PY.http_request_sync(req)
  end

  function PY.tcp_server_is_ready(id)
    id = want_id("tcp_server_is_ready", 1, id, "server id")
    return core.server_listening(id)
  end

  function PY.tcp_server_write_sync(client, data)
    client = want_id("tcp_server_write_sync", 1, client, "client id")
    data = want_string("tcp_server_write_sync", 2, data)
    local ok, sent, message = PY.tcp_write_sync(client, data)
    if ok then
      return true, ("Sent %d bytes to client %d"):format(sent, client)
    end
    return false, message
  end

  -- Waits (without a time limit, as the original) until something arrives from `client`.
  function PY.tcp_server_read_sync(client, max)
    client = want_id("tcp_server_read_sync", 1, client, "client id")
    want_number("tcp_server_read_sync", 2, max, true)
    local ok, data, message = await(core.tcp_read(client, "max", max or 1024))
    if ok then
      return true, data, ("Received %d bytes from client %d"):format(#data, client)
    end
    if message == "closed" then
      return false, nil, ("Client %d disconnected"):format(client)
    end
    return false, nil, message
  end

  function PY.list_extensions()
    local catalogue = require("plua.catalogue")
    local names = {}
    print("Available Lua Extensions:")
    print(("="):rep(50))
    for _, family in ipairs(catalogue.families) do
      local sorted = {}
      for i, name in ipairs(family.names) do
        sorted[i] = name
      end
      table.sort(sorted)
      print("\n" .. family.name:upper() .. ":")
      for _, name in ipairs(sorted) do
        print("  " .. name)
        names[#names + 1] = name
      end
    end
    local modules = core.embedded_modules()
    table.sort(modules)
    print("\nMODULES (require):")
    print("  " .. table.concat(modules, ", "))
    table.sort(names)
    return names
  end
end

return M
