"""Opens N TCP connections to 127.0.0.1:PORT and holds them, idle, until killed
(scripts/bench.sh, alive-check figure; the server is scripts/bench/idle_turns.lua)."""
import socket
import sys
import time

port, count = int(sys.argv[1]), int(sys.argv[2])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
print("connected", len(held), flush=True)
while True:
    time.sleep(60)
