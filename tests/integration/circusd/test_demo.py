"""`make demo` as README.md and docs/getting-started.md tell a new user to try it: the demo's
configuration (examples/demo.ini, on a free port), curl, incr, quit (the workers keep serving),
then circusd again from another terminal, which adopts them as they are."""

import os
import shutil
import urllib.request
from pathlib import Path

import pytest
import support
from support import wait_for

pytestmark = pytest.mark.timeout(90)
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def demo_config(port: int) -> str:
    """examples/demo.ini without its [circus] section (the test gives private endpoints)."""
    text = (EXAMPLES / "demo.ini").read_text()
    body = "[socket:web]" + text.split("[socket:web]", 1)[1]
    assert "port = 8080\n" in body
    return body.replace("port = 8080\n", f"port = {port}\n")


def hello(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
        return reply.read().decode()


def test_the_demo_as_getting_started_tells_it(tmp_path):
    port = support.free_port()
    d = support.Circusd(tmp_path / "examples", demo_config(port))
    shutil.copy(EXAMPLES / "demo_app.py", d.workdir)
    try:
        d.env = dict(os.environ, DEMO_TERMINAL="first")  # `make demo` in one terminal
        d.start()
        assert hello(port).startswith("Hello from circus worker wid=")
        d.ok("incr", name="web", nb=2)
        wait_for(lambda: len(d.pids("web")) == 4, timeout=20, message="four workers")
        d.ok("quit")
        assert d.proc.wait(timeout=20) == 0
        assert hello(port).startswith("Hello from circus worker")  # still serving
        # `make demo` again, from the other terminal (another environment): the workers are
        # adopted as they are, not reported as spawned "with another env"
        d.env = dict(os.environ, DEMO_TERMINAL="second")
        d.start()
        status = d.ok("status", name="web")
        assert status["status"] == "active" and "outdated" not in status, status
        assert "outdated" not in d.log(), d.log()
        assert hello(port).startswith("Hello from circus worker")
    finally:
        d.cleanup()
