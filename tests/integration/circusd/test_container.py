"""deploy/Dockerfile's ENTRYPOINT and CMD, run as a container runtime would run them: in a new
PID namespace (``unshare --pid --fork --mount-proc``) with deploy/circus-container.ini,
papa-kernel as PID 1 and circusd beside it. The workers serve; ``docker stop`` (SIGTERM to
PID 1) stops everything gracefully and the container exits 0. (No image is built here: that
needs a container daemon.)"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import support

pytestmark = pytest.mark.timeout(90)

DEPLOY = os.path.join(os.path.dirname(__file__), "..", "..", "..", "deploy")
EXAMPLES = os.path.join(DEPLOY, "..", "examples")


def dockerfile_command() -> list[str]:
    """ENTRYPOINT + CMD of deploy/Dockerfile (their JSON forms)."""
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        text = f.read()
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M)[1])
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M)[1])
    return entrypoint + cmd


def get(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def test_dockerfile_command_as_pid1_serves_and_stops_gracefully(circusd):
    reason = support.pid_namespace_unavailable()
    if reason:
        pytest.skip(reason)
    port = support.free_port()
    with open(os.path.join(DEPLOY, "circus-container.ini")) as f:
        example = f.read()
    assert example.count("[circus]\n") == 1
    body = example.split("[circus]\n", 1)[1]  # the test's Circusd writes its own [circus]
    body = body.replace("host = 0.0.0.0", "host = 127.0.0.1").replace("8080", str(port))
    body = body.replace("/opt/circus/.venv/bin/python", sys.executable)
    body = body.replace("/opt/circus/demo_app.py", os.path.join(EXAMPLES, "demo_app.py"))
    d = circusd(body, start=False)
    bindir = os.path.dirname(sys.executable) + "/"
    argv = [
        arg.replace("/opt/circus/.venv/bin/", bindir)
        .replace("/run/circus/papa.sock", d.papa)
        .replace("/etc/circus/circus.ini", d.config_path)
        for arg in dockerfile_command()
    ]
    assert argv[1:3] == ["--init", "--socket"] and "--no-start-kernel" in argv
    started = time.monotonic()
    with support.subreaper(), open(d.log_path, "ab") as log:
        namespaced = ["unshare", "--pid", "--fork", "--mount-proc", *argv]
        box = subprocess.Popen(
            namespaced, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            answer = support.wait_for(lambda: _try_get(port), timeout=30, message="workers")
            print(f"first answer {1000 * (time.monotonic() - started):.0f} ms after launch")
            assert answer.startswith("Hello from circus worker")
            # workers may answer before circusd binds its control endpoint (bound last)
            ctl = d.endpoint.removeprefix("ipc://")
            support.wait_for(lambda: os.path.exists(ctl), message="circusd's control endpoint")
            assert len(d.pids("web")) == 2
            assert "papa-kernel ready pid=1 " in d.log()  # PID 1 of the namespace
            kernel = support.wait_for(lambda: _children(box.pid), message="PID 1")[0]
            stopping = time.monotonic()
            os.kill(kernel, signal.SIGTERM)  # docker stop
            assert box.wait(timeout=30) == 0, d.log()
            print(f"docker stop took {1000 * (time.monotonic() - stopping):.0f} ms")
            assert _try_get(port) is None  # nothing serves any more
        finally:
            if box.poll() is None:
                os.killpg(box.pid, signal.SIGKILL)
                box.wait(timeout=10)


def _try_get(port: int) -> str | None:
    try:
        return get(port)
    except OSError:
        return None


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]
