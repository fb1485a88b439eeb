-- mqtt: the HC3's MQTT module for scripts outside QuickApps (`local mqtt = require("mqtt")`):
-- `mqtt.Client.connect(uri, options)` and `mqtt.QoS`, the same client as net.MQTTClient
-- (lua_stdlib/net/mqtt.lua). Sets no global.

local names = require("net.mqtt")({})

return {
  Client = names.Client,
  QoS = names.QoS,
  MQTTConnectReturnCode = names.MQTTConnectReturnCode,
}
