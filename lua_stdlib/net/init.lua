-- net: the HC3-compatible networking library (`require("net")`; a global in QuickApps).
-- One file per concern; callbacks always run on a later turn of the event loop, in their own
-- coroutine, and errors inside them are reported with a traceback without stopping the process.

local net = {}

require("net.tcp")(net)
require("net.udp")(net)
require("net.server")(net)
require("net.http")(net)
require("net.websocket")(net)
require("net.mqtt")(net)

return net
