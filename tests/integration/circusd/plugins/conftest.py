"""Fixtures for plugin tests: a package of plugins importable by circusd and its plugins.

``plugin_package`` writes ``myproject/plugins.py`` (the manual's Logger, verbatim, plus the
plugins these tests need) under a temporary directory and puts it on ``PYTHONPATH``, which
circusd (started by the ``circusd`` fixture) and its plugin processes (``copy_env``) inherit.
"""

from __future__ import annotations

import re
import socket
import textwrap
from collections.abc import Iterator

import pytest
import support
from support import wait_for

#: Plugins for the other tests (not from the manual).
TEST_PLUGINS = textwrap.dedent("""\
    import json
    import os

    from circus.plugins import CircusPlugin

    if os.environ.get("BREAK_PLUGIN_IMPORT"):
        raise ImportError("this plugin cannot be imported here (BREAK_PLUGIN_IMPORT)")


    class Caller(CircusPlugin):
        \"\"\"On each 'updated' event of watcher 'trigger': call('list') into a file (the
        reply, with the event's time as event_time), then cast('incr') on watcher 'target'.\"\"\"

        def handle_recv(self, data):
            watcher, action, msg = self.split_data(data)
            if (watcher, action) != ("trigger", "updated"):
                return
            reply = self.call("list")
            with open(self.config["out"], "a") as f:
                event = self.load_message(msg)
                f.write(json.dumps({**reply, "event_time": event.get("time")}) + "\\n")
            self.cast("incr", name="target")


    class BrokenInit(CircusPlugin):
        def handle_init(self):
            raise RuntimeError("handle_init refuses: " + self.config.get("why", "no reason"))

        def handle_recv(self, data):
            pass


    class Recorder(CircusPlugin):
        \"\"\"Writes its config (JSON) to config['out'] at start.\"\"\"

        def handle_init(self):
            with open(self.config["out"], "w") as f:
                json.dump({"config": self.config, "check_delay": self.check_delay,
                           "endpoint": self.endpoint, "pubsub": self.pubsub_endpoint}, f)

        def handle_recv(self, data):
            pass
""")


def write_plugin_package(root) -> None:
    """``myproject`` (plugins.py: the manual's Logger; testplugins.py) under ``root``."""
    package = root / "myproject"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "plugins.py").write_text(support.MANUAL_LOGGER)
    (package / "testplugins.py").write_text(TEST_PLUGINS)


@pytest.fixture(scope="module")
def module_plugin_package(tmp_path_factory):
    """Like ``plugin_package``, for a module's circusd (whose environment has to name it)."""
    root = tmp_path_factory.mktemp("pkg")
    write_plugin_package(root)
    return root


@pytest.fixture
def plugin_package(tmp_path, monkeypatch):
    """The directory holding ``myproject`` (on PYTHONPATH for circusd and its plugins)."""
    root = tmp_path / "pkg"
    write_plugin_package(root)
    monkeypatch.setenv("PYTHONPATH", str(root))
    return root


class UdpListener:
    """A statsd stand-in: collects the datagrams sent to 127.0.0.1:port."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.received: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.received.append(self.sock.recv(65536).decode())
            except TimeoutError:
                return self.received

    def wait(self, pattern: str, timeout: float = 30) -> str:
        regex = re.compile(pattern)

        def found() -> str | None:
            return next((m for m in self.drain() if regex.fullmatch(m)), None)

        return wait_for(found, timeout=timeout, message=f"a datagram matching {pattern!r}")


@pytest.fixture
def statsd() -> Iterator[UdpListener]:
    listener = UdpListener()
    yield listener
    listener.sock.close()


@pytest.fixture(scope="module")
def module_statsd() -> Iterator[UdpListener]:
    """Like ``statsd``, for a module's circusd (whose config names its port)."""
    listener = UdpListener()
    yield listener
    listener.sock.close()
