"""A worker for circusd integration tests. Behaviour by argv[1]:

- ``sleep``: print ``start PID ARGS`` and sleep forever (support.WORKER_CMD runs worker.sh,
  which does this one itself with /bin/sleep: keep the two alike);
- ``stubborn``: like sleep but ignores SIGTERM (needs SIGKILL; worker.sh does this one itself
  too: keep the two alike);
- ``crash``: exit 1 at once;
- ``exit-after SECONDS``: sleep, then exit 0;
- ``http FD``: serve HTTP/1.0 on the inherited listening socket FD, print one line per request;
- ``http-graceful FD``: like ``http``, but SIGTERM lets the request in progress finish and
  leaves the connections not yet accepted to the other workers sharing the socket (the way
  real servers stop, and what a replacement without downtime relies on);
- ``http-logging FD``: like ``http``, but a threaded ``http.server`` that logs each request
  to stderr before answering it (the demo's ``python -m http.server``): when that pipe is
  broken (its kernel died), every request fails, while the worker lives on;
- ``spawn-child``: start a child ``sleep`` process, print both pids, sleep;
- ``lines N``: print N numbered lines, then sleep forever;
- ``record FILE``: append received signal names to FILE (TERM exits).
- ``hog [--child]``: use CPU, a quarter of a core at most (10 ms of CPU, then 30 ms of sleep,
  forever): what a test of CPU figures or limits needs to see, without taking a core from the
  rest of the suite; ``--child`` first starts a child hog;
- ``count N BATCH DELAY DONE``: write lines ``0000000``...``N-1`` (8 bytes each), BATCH lines per
  write, DELAY seconds between writes, then create the file DONE and sleep forever.
"""

# Only what every mode needs: the others import theirs (signal brings enum; socket and
# subprocess more): a sleeper's start, the most common, costs ~10 ms of CPU instead of ~25-40.
import os
import sys
import time

mode = sys.argv[1]
pid = os.getpid()
wid = os.environ.get("WID", "?")


def serve(conn, count):
    """Answer one HTTP/1.0 request with our pid, print ``served PID N``; returns N."""
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        body = f"{pid}\n".encode()
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    print(f"served {pid} {count + 1}", flush=True)
    return count + 1


def forever():
    while True:
        time.sleep(3600)


if mode == "sleep":
    print(f"start {pid} {' '.join(sys.argv[2:])}", flush=True)
    forever()
elif mode == "stubborn":
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(f"stubborn {pid}", flush=True)
    forever()
elif mode == "crash":
    sys.exit(1)
elif mode == "exit-after":
    time.sleep(float(sys.argv[2]))
    sys.exit(0)
elif mode == "spawn-child":
    import subprocess

    child = subprocess.Popen(["/bin/sleep", "3600"])  # (a Python child cost ~35 ms of CPU)
    print(f"parent {pid} child {child.pid}", flush=True)
    forever()
elif mode == "hog":
    if sys.argv[2:] == ["--child"]:
        import subprocess

        subprocess.Popen([sys.executable, "-S", __file__, "hog"])
    print(f"hog {pid}", flush=True)
    while True:
        busy_until = time.process_time() + 0.01
        while time.process_time() < busy_until:
            pass
        time.sleep(0.03)
elif mode == "lines":
    for i in range(int(sys.argv[2])):
        print(f"line {i}", flush=True)
    forever()
elif mode == "count":
    total, batch, delay, done = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    for start in range(0, total, batch):
        lines = "".join(f"{i:07d}\n" for i in range(start, min(start + batch, total)))
        os.write(1, lines.encode())
        if delay:
            time.sleep(delay)
    open(done, "w").close()
    forever()
elif mode == "record":
    import signal

    path = sys.argv[2]

    def record(signum, frame):
        with open(path, "a") as f:
            f.write(f"{signal.Signals(signum).name} {pid}\n")
        if signum == signal.SIGTERM:
            sys.exit(0)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGINT):
        signal.signal(sig, record)
    with open(path, "a") as f:
        f.write(f"ready {pid}\n")
    forever()
elif mode == "http":
    import socket

    listener = socket.socket(fileno=int(sys.argv[2]))
    count = 0
    while True:
        conn, _ = listener.accept()
        count = serve(conn, count)
elif mode == "http-logging":
    import http.server
    import socket

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"{pid}\n".encode()
            self.send_response(200)  # logs the request to stderr
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=int(sys.argv[2]))
    server.serve_forever()
elif mode == "http-graceful":
    import selectors
    import signal
    import socket

    # Non-blocking accept, as pre-fork servers (gunicorn's sync workers) do: O_NONBLOCK is set
    # on the open file description that every worker of the socket shares, so every worker
    # sharing it must be an http-graceful one (a blocking ``http`` worker would get EAGAIN).
    # After a wake-up another worker may win the connection: accept() then fails with EAGAIN
    # and we select again, where a SIGTERM is seen at once (a blocking accept() would sleep
    # until the next connection, or until circusd's SIGKILL after graceful_timeout when none
    # comes).
    listener = socket.socket(fileno=int(sys.argv[2]))
    listener.setblocking(False)
    wakeup_r, wakeup_w = os.pipe()
    os.set_blocking(wakeup_w, False)
    signal.set_wakeup_fd(wakeup_w)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)  # recorded by the wakeup fd
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wakeup_r, selectors.EVENT_READ)
    count = 0
    while True:
        ready = {key.fileobj for key, _ in selector.select()}
        if wakeup_r in ready:
            sys.exit(0)  # between two requests: nothing in progress is lost
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            continue  # another worker took it
        count = serve(conn, count)
else:
    sys.exit(f"unknown mode {mode}")
