// WebSocket echo server on Node.js's `ws` package for scripts/bench.sh (figures 12 and 13).
//
// Sends every message back to its sender (text as text, binary as binary) on 127.0.0.1
// (port 0 = a free one, or argv[2]). Prints `port=<n>` first, then serves until killed.
// bench.sh installs `ws` into target/node-ws with npm and points NODE_PATH there.
//
// Usage: NODE_PATH=target/node-ws/node_modules node ws_echo_server.js [PORT]
"use strict";
const { WebSocketServer } = require("ws");

const port = Number(process.argv[2] || 0);
const server = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
server.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.on("listening", () => console.log(`port=${server.address().port}`));
