# Drives `plua` (argv[1]) with no arguments on a pseudo-terminal, HOME=argv[2]. argv[3] is a
# JSON list of [keys, expected] steps: each sends `keys`, then waits (up to 15 s) until the
# output seen so far, without terminal escapes, contains `expected` one more time than before.
# Keys that follow a submitted line (or Ctrl-C) wait for the next prompt first.
# Prints the whole output without escapes, then "exit=<status>" once plua has ended.
import json, os, pty, re, select, sys, time

plua, home, steps = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
pid, fd = pty.fork()
if pid == 0:
    os.environ["HOME"] = home
    os.environ["TERM"] = "xterm"
    os.execv(plua, [plua])

raw = b""
def text():
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw.decode("utf-8", "replace"))
    return plain.replace("\r", "")

def pump(limit):
    """Reads what arrives within `limit` s: "data", "idle", or "eof"."""
    global raw
    r, _, _ = select.select([fd], [], [], limit)
    if not r:
        return "idle"
    try:
        data = os.read(fd, 4096)
    except OSError:
        return "eof"
    if not data:
        return "eof"
    raw += data
    return "data"

def wait_for(needle, count):
    end = time.time() + 15
    while text().count(needle) < count and time.time() < end:
        if pump(0.05) == "eof":
            break

def wait_prompt():
    # Keys typed before the editor is back in raw mode would reach the terminal's own line
    # discipline (Ctrl-D, Ctrl-C are not passed on as keys there), so wait for the prompt.
    end = time.time() + 15
    while not text().endswith(("plua> ", ">> ")) and time.time() < end:
        if pump(0.05) == "eof":
            break

submitted = True
for keys, expected in steps:
    if submitted:
        wait_prompt()
    submitted = keys.endswith("\r") or keys == "\x03"
    before = text().count(expected) if expected else 0
    os.write(fd, keys.encode())
    if expected:
        wait_for(expected, before + 1)
    else:
        end = time.time() + 0.3
        while time.time() < end and pump(0.05) != "eof":
            pass
status = None
end = time.time() + 15
while time.time() < end:
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(st)
        break
    pump(0.05)
while pump(0.05) == "data":
    pass
if status is None:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print(text())
print("exit=%s" % status)
