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
  util.py free-port                   -> a TCP port on 127.0.0.1 that is free right now
  util.py wait-port PORT TIMEOUT_S    -> exit 0 once 127.0.0.1:PORT accepts a connection
  util.py wrk FILE                    -> from `wrk --latency` output: rps, p99_ms, requests
  util.py proc-cpu PID                -> user+sys CPU seconds PID has used so far (/proc, 1/HZ s)
  util.py slowloris PORT [CONNS] [REQUESTS]
                                      -> added latency of plain GET requests to 127.0.0.1:PORT
                                         while CONNS (100) connections each send one byte of
                                         a request per second (figure 10); prints key=value

CPU time comes from os.wait4() on the child, i.e. getrusage of that one process with
microsecond resolution (/usr/bin/time only prints 10 ms steps). Peak RSS is NOT taken from
here: a child forked by Python inherits Python's resident pages until exec and the kernel
keeps that high-water mark, so bench.sh uses /usr/bin/time -f %M for RSS instead.
"""
import http.client
import json
import os
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import threading
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


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def wait_port(port, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("wait-port: nothing accepts on 127.0.0.1:%d" % port)


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def wrk(path):
    """Requests/sec and the 99% latency line of `wrk --latency` output."""
    with open(path) as f:
        text = f.read()
    m = re.search(r"^Requests/sec:\s*([0-9.]+)", text, re.M)
    if m:
        print("rps=%s" % m.group(1))
    m = re.search(r"^\s*99(?:\.000)?%\s+([0-9.]+)(us|ms|s|m)\s*$", text, re.M)
    if m:
        print("p99_ms=%.3f" % (float(m.group(1)) * _UNITS_MS[m.group(2)]))
    m = re.search(r"^\s*(\d+) requests in", text, re.M)
    if m:
        print("requests=%s" % m.group(1))
    m = re.search(r"Socket errors: (.*)", text)
    if m:
        print("socket_errors=%s" % m.group(1).strip())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        print("non_2xx=%s" % m.group(1))


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): utime and stime are fields 14 and 15
    print("cpu_s=%.3f" % ((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")))


def _timed_get(port):
    """One plain GET on a fresh connection (as curl does): milliseconds until the body is read."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/")
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    if resp.status != 200 or body != b"hello":
        raise RuntimeError("unexpected answer %d %r" % (resp.status, body[:40]))
    return (time.monotonic() - t0) * 1000


def _get_series(port, n, gap_s):
    out = []
    for _ in range(n):
        out.append(_timed_get(port))
        time.sleep(gap_s)
    return out


# A request head that never completes while the test runs (1 byte/s, ~150 bytes).
_SLOW_HEAD = (b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\n"
              b"X-Padding: " + b"a" * 100 + b"\r\n\r\n")


def _slowloris(port, conns, stop, stats):
    """CONNS sockets, each sending the next byte of _SLOW_HEAD once a second, starts staggered
    over the first second; a socket the server closes is reopened (counted in stats)."""
    t0 = time.monotonic()
    socks = [None] * conns
    sent = [0] * conns
    due = [t0 + i / conns for i in range(conns)]
    while not stop.is_set():
        now = time.monotonic()
        for i in range(conns):
            if now < due[i]:
                continue
            due[i] += 1.0
            try:
                if socks[i] is None:
                    socks[i] = socket.create_connection(("127.0.0.1", port), timeout=2)
                    sent[i] = 0
                    stats["opened"] += 1
                socks[i].send(_SLOW_HEAD[sent[i]:sent[i] + 1])
                sent[i] = (sent[i] + 1) % len(_SLOW_HEAD)
                stats["bytes"] += 1
            except OSError:
                if socks[i] is not None:
                    socks[i].close()
                socks[i] = None
                stats["dropped"] += 1
        # a closed slow socket (408, or the server gave up) becomes readable: count and reopen
        live = [s for s in socks if s is not None]
        r = select.select(live, [], [], 0)[0] if live else []
        for s in r:
            i = socks.index(s)
            s.close()
            socks[i] = None
            stats["dropped"] += 1
        stop.wait(0.005)
    stats["alive"] = sum(1 for s in socks if s is not None)
    for s in socks:
        if s is not None:
            s.close()


def _series_beside(port, conns, requests, gap, stats):
    """The timed GETs while the slowloris thread runs with CONNS connections (0 for the
    baseline: the same polling thread, so both series see the same client-side load)."""
    stop = threading.Event()
    t = threading.Thread(target=_slowloris, args=(port, conns, stop, stats), daemon=True)
    t.start()
    time.sleep(2.0)                                         # all connections open, mid-request
    try:
        return _get_series(port, requests, gap)
    finally:
        stop.set()
        t.join()


def slowloris(port, conns, requests):
    gap = 0.05
    _timed_get(port)                                        # warm-up, not counted
    idle = {"opened": 0, "bytes": 0, "dropped": 0, "alive": 0}
    base = _series_beside(port, 0, requests, gap, idle)
    stats = {"opened": 0, "bytes": 0, "dropped": 0, "alive": 0}
    loaded = _series_beside(port, conns, requests, gap, stats)
    b = statistics.median(base)
    print("baseline_median_ms=%.3f" % b)
    print("baseline_max_ms=%.3f" % max(base))
    print("loaded_median_ms=%.3f" % statistics.median(loaded))
    print("loaded_max_ms=%.3f" % max(loaded))
    print("added_median_ms=%.3f" % (statistics.median(loaded) - b))
    print("added_max_ms=%.3f" % (max(loaded) - b))
    print("slow_opened=%d" % stats["opened"])
    print("slow_bytes=%d" % stats["bytes"])
    print("slow_dropped=%d" % stats["dropped"])
    print("slow_alive=%d" % stats["alive"])


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
    elif cmd == "free-port":
        free_port()
    elif cmd == "wait-port":
        wait_port(int(rest[0]), float(rest[1]))
    elif cmd == "wrk":
        wrk(rest[0])
    elif cmd == "proc-cpu":
        proc_cpu(int(rest[0]))
    elif cmd == "slowloris":
        slowloris(int(rest[0]), int(rest[1]) if len(rest) > 1 else 100,
                  int(rest[2]) if len(rest) > 2 else 20)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
