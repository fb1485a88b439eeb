#!/usr/bin/env python3
"""Small helpers for scripts/bench.sh (python3 standard library only).

  util.py hyperfine-means FILE.json   -> one line per command: "<mean_ms> <stddev_ms>"
  util.py cpu TIMEOUT_S CMD [ARGS...] -> runs CMD once, prints key=value lines:
                                         user_ms, sys_ms, cpu_ms, wall_ms, exit
  util.py median V [V...]             -> median of the numeric values (blank ones ignored)
  util.py tcp-bulk BYTES CHUNK        -> loopback TCP throughput between two python3
                                         processes with blocking sockets (sendall / recv_into
                                         of CHUNK bytes, "done" reply as tcp_bulk_server.lua):
                                         prints mb_per_sec (the anchor of figure 7)

CPU time comes from os.wait4() on the child, i.e. getrusage of that one process with
microsecond resolution (/usr/bin/time only prints 10 ms steps). Peak RSS is NOT taken from
here: a child forked by Python inherits Python's resident pages until exec and the kernel
keeps that high-water mark, so bench.sh uses /usr/bin/time -f %M for RSS instead.
"""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time


def hyperfine_means(path):
    with open(path) as f:
        data = json.load(f)
    for r in data["results"]:
        print("%.4f %.4f" % (r["mean"] * 1000, (r.get("stddev") or 0.0) * 1000))


def cpu(timeout_s, cmd):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = t0 + float(timeout_s)
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            break
        if time.monotonic() > deadline:
            p.send_signal(signal.SIGKILL)
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.005)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)  # already reaped; keep Popen quiet
    print("user_ms=%.3f" % (ru.ru_utime * 1000))
    print("sys_ms=%.3f" % (ru.ru_stime * 1000))
    print("cpu_ms=%.3f" % ((ru.ru_utime + ru.ru_stime) * 1000))
    print("wall_ms=%.1f" % (wall * 1000))
    print("exit=%d" % p.returncode)


def median(values):
    nums = [float(v) for v in values if v.strip()]
    if nums:
        print(statistics.median(nums))


def tcp_bulk(total, chunk):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    pid = os.fork()
    if pid == 0:                                   # receiver: count bytes, then reply "done"
        try:
            conn, _ = listener.accept()
            buf = bytearray(chunk)
            got = 0
            while got < total:
                n = conn.recv_into(buf)
                if n == 0:
                    break
                got += n
            conn.sendall(b"done\n")
            conn.close()
        finally:
            os._exit(0)
    address = listener.getsockname()
    listener.close()
    out = socket.create_connection(address)
    data = b"z" * chunk
    t0 = time.monotonic()
    for _ in range(total // chunk):
        out.sendall(data)
    reply = out.recv(16)
    total_s = time.monotonic() - t0
    out.close()
    os.waitpid(pid, 0)
    if not reply.startswith(b"done"):
        sys.exit("tcp-bulk: no 'done' from the receiver")
    print("total_seconds=%.6f" % total_s)
    print("mb_per_sec=%.1f" % (total // chunk * chunk / total_s / 1e6))


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, rest = argv[1], argv[2:]
    if cmd == "hyperfine-means":
        hyperfine_means(rest[0])
    elif cmd == "cpu":
        cpu(rest[0], rest[1:])
    elif cmd == "median":
        median(rest)
    elif cmd == "tcp-bulk":
        tcp_bulk(int(rest[0]), int(rest[1]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
