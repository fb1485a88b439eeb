#!/usr/bin/env python3
"""WebSocket echo server on Python `websockets` for scripts/bench.sh (figures 12 and 13).

Sends every message back on the connection it came from (str as text, bytes as binary), on
127.0.0.1 (port 0 = a free one, or argv[1]), one asyncio event loop with the default
selector. Prints `port=<n>` on stdout first, then serves until it is killed.

Needs websockets >= 10 (Debian's python3-websockets 10.4 is what bench.sh installs; the
handler takes the path argument that 10.x passes and newer versions drop).

Usage: python3 ws_echo_server.py [PORT]
"""
import asyncio
import sys

import websockets


async def echo(ws, path=None):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def main(port):
    async with websockets.serve(echo, "127.0.0.1", port) as server:
        bound = server.sockets[0].getsockname()[1]
        print("port=%d" % bound, flush=True)
        await asyncio.Future()  # serve until killed


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    except KeyboardInterrupt:
        pass
