-- plua.catalogue: every public `_PY` name, the family it belongs to, and where that family is
-- defined. This one table drives lazy loading (the prelude's `_PY.__index` loads a name's
-- family the first time the name is looked up) and `pairs(_PY)` (which loads every family),
-- and `tests/py_catalogue.rs` checks it against what `_PY` really holds, both ways.
--
-- A family is `eager` (set up at start-up by the prelude or the runtime), `rust` (a group of
-- Rust functions registered on first use: `core.load_py_family(name)`), or Lua (a module under
-- lua_stdlib/plua/ installed on first use by the prelude's loader of that name).
--
-- It is loaded only on the first lookup of a name `_PY` does not hold yet, never at start-up.

local families = {
  {
    name = "core",
    eager = true,
    where = "lua_stdlib/plua/prelude.lua (timers, sleep, ref/unref); src/api/mod.rs, src/runtime.rs (values)",
    names = {
      "setTimeout", "setInterval", "clearTimeout", "clearInterval", "sleep",
      "has_active_timers", "has_active_intervals", "ref", "unref",
      "debug", "version", "args", "mainfile",
    },
  },
  {
    name = "files",
    rust = true,
    where = "src/api/fs.rs",
    names = {
      "read_file", "write_file", "file_exists", "get_file_size", "list_files",
      "create_directory", "create_temp_directory",
    },
  },
  {
    name = "json",
    rust = true,
    where = "src/api/json.rs",
    names = { "parse_json", "to_json", "pretty_print", "print_table", "json_array" },
  },
  {
    name = "env",
    rust = true,
    where = "src/api/env.rs",
    names = { "get_env_var", "set_env_var", "get_all_env_vars" },
  },
  {
    name = "html",
    rust = true,
    where = "src/api/html.rs, src/api/colors.rs",
    names = { "html2console", "get_available_colors" },
  },
  {
    name = "system",
    rust = true,
    where = "src/api/system.rs",
    names = {
      "get_time", "base64_encode", "base64_decode", "input_lua",
      "get_local_ip", "get_hostname", "is_port_available",
    },
  },
  {
    name = "assets",
    rust = true,
    where = "src/api/assets.rs (files embedded by build.rs)",
    names = { "embedded_file", "embedded_files" },
  },
  {
    name = "sockets",
    where = "lua_stdlib/plua/sockets.lua on src/api/net.rs",
    names = {
      "tcp_connect", "tcp_write", "tcp_read", "tcp_read_until", "tcp_close",
      "tcp_set_timeout", "tcp_get_timeout",
      "tcp_connect_sync", "tcp_write_sync", "tcp_read_sync", "tcp_read_until_sync",
      "tcp_close_sync", "tcp_set_timeout_sync", "tcp_get_timeout_sync",
      "tcp_server_create", "tcp_server_add_event_listener", "tcp_server_start",
      "tcp_server_close",
      "tcp_server_create_sync", "tcp_server_accept_sync", "tcp_server_close_sync",
      "tcp_connect_to_sync_server", "tcp_write_sync_client", "tcp_read_sync_client",
      "tcp_close_sync_client",
      "udp_connect", "udp_bind", "udp_write", "udp_read", "udp_receive_sync", "udp_close",
    },
  },
  {
    name = "http_server",
    where = "lua_stdlib/plua/http_server.lua on src/api/http.rs, src/api/http_stream.rs",
    names = { "http_server_start", "http_server_stop", "http_server_static" },
  },
  {
    name = "web_compat",
    where = "lua_stdlib/plua/web_compat.lua",
    names = {
      "start_web_server", "stop_web_server", "is_web_server_running", "get_web_server_status",
      "register_web_callback", "unregister_web_callback", "get_web_server_message",
      "start_web_message_processing", "add_route",
    },
  },
  {
    name = "http_client",
    where = "lua_stdlib/plua/http_client.lua on src/api/http.rs",
    names = { "http_request_async", "http_request_sync", "http_request_blocking_pool", "http_download" },
  },
  {
    name = "compat",
    where = "lua_stdlib/plua/compat.lua on src/api/net.rs (the original's extra names)",
    names = {
      "get_python_version", "has_active_network_operations", "has_active_tcp_server_operations",
      "has_active_websocket_operations", "has_active_websocket_server_operations",
      "http_request", "tcp_server_is_ready", "tcp_server_read_sync", "tcp_server_write_sync",
      "list_extensions",
    },
  },
  {
    name = "config",
    where = "lua_stdlib/plua/config.lua (.plua.lua files, read on first use)",
    names = { "pluaconfig" },
  },
  {
    name = "events",
    where = "lua_stdlib/plua/events.lua (the HC3 event ring and refreshStates polling)",
    names = {
      "addEvent", "addEventFromLua", "getEvents", "pollRefreshStates", "stopRefreshStates",
      "getRefreshStatesStatus",
    },
  },
  {
    name = "websocket",
    where = "lua_stdlib/plua/websocket.lua on src/api/websocket.rs",
    names = {
      "websocket_client_create", "websocket_connect", "websocket_add_event_listener",
      "websocket_send", "websocket_close", "websocket_is_open",
      "websocket_server_create", "websocket_server_add_event_listener", "websocket_server_start",
      "websocket_server_send", "websocket_server_broadcast", "websocket_server_disconnect",
      "websocket_server_close",
    },
  },
}

-- name -> family name
local family_of = {}
for _, family in ipairs(families) do
  for _, name in ipairs(family.names) do
    assert(family_of[name] == nil, "plua.catalogue: " .. name .. " is listed twice")
    family_of[name] = family.name
  end
end

return { families = families, family_of = family_of }
