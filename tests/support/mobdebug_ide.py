# A scripted MobDebug controller, listening like an IDE: prints its port, accepts plua's
# connection, sends the commands given as arguments and prints one transcript line per reply:
#   "<command> => <reply line>" and, for replies with a length, " | <body>".
# The argument "WAIT" reads one unsolicited reply (202/203 Paused, 204 Output) instead;
# "SLEEP:<ms>" waits; "HTTP:<port>:<path>" makes a GET request from a thread (its status is printed as "http <n>").
# After the last argument it reads until plua closes the connection and prints "EOF".
import socket, sys, threading, time, urllib.request

# The request threads print too: each transcript line is written whole, under one lock, so
# a thread's line cannot land in the middle of another ("RUN http 200\n=> 200 OK").
say_lock = threading.Lock()

def say(*parts):
    with say_lock:
        sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
        sys.stdout.flush()

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
say(srv.getsockname()[1])
srv.settimeout(15)
conn, _ = srv.accept()
conn.settimeout(15)
stream = conn.makefile("rb")

def reply():
    line = stream.readline().decode().rstrip("\n")
    parts = line.split()
    with_body = line.startswith("204") or line.startswith("401") or (
        len(parts) == 3 and parts[:2] == ["200", "OK"] and last.startswith(("EXEC", "LOAD")))
    if with_body and parts and parts[-1].isdigit() and int(parts[-1]) > 0:
        body = stream.read(int(parts[-1])).decode()
        return line + " | " + body.replace("\n", "\\n")
    return line

def get(port, path):
    # The server may not be listening yet (the program starts after RUN): retry a while.
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s%s" % (port, path), timeout=15) as r:
            say("http", r.status)
    except Exception as e:
        say("http error", e)

last = ""
requests = []
for arg in sys.argv[1:]:
    if arg == "WAIT":
        say("WAIT =>", reply())
    elif arg.startswith("SLEEP:"):
        time.sleep(int(arg[6:]) / 1000)
    elif arg.startswith("HTTP:"):
        _, port, path = arg.split(":", 2)
        requests.append(threading.Thread(target=get, args=(port, path), daemon=True))
        requests[-1].start()
    else:
        last = arg
        conn.sendall((arg + "\n").encode())
        if arg.startswith("SUSPEND"):
            continue
        say(arg, "=>", reply())
# Through the same buffered stream: bytes that came with the last reply are already in it.
late = b""
while True:
    try:
        data = stream.read1(4096)
    except OSError:
        break
    if not data:
        break
    late += data
if late:
    say("late:", late.decode().replace("\n", "\\n"))
for request in requests:
    request.join(15)
say("EOF")
