"""Fixtures for circushttpd tests: a real circusd and a real circushttpd over real HTTP."""

from __future__ import annotations

import contextlib
import os
import sys

import pytest
import support

sys.path.insert(0, os.path.dirname(__file__))  # web_clients.py

from web_clients import Httpd

SLEEPER = """
[watcher:sleeper]
cmd = sleep 1000
numprocesses = 2
"""


@pytest.fixture
def httpd_factory(tmp_path):
    """``httpd_factory(endpoint, *args)`` starts a circushttpd; all stopped afterwards."""
    started: list[Httpd] = []

    def factory(endpoint: str, *args: str, host: str = "127.0.0.1", tls: bool = False) -> Httpd:
        server = Httpd(tmp_path / f"h{len(started)}", endpoint, *args, host=host, tls=tls)
        started.append(server)
        return server

    (tmp_path / "h0").mkdir(exist_ok=True)
    for i in range(1, 4):
        (tmp_path / f"h{i}").mkdir(exist_ok=True)
    yield factory
    for server in started:
        with contextlib.suppress(Exception):
            server.stop()


def _shares(request) -> bool:
    node = request.node
    return bool(node.get_closest_marker("read_only") or node.get_closest_marker("puts_back"))


@pytest.fixture
def daemon(request, circusd):
    """A circusd with one watcher, ``sleeper`` (2 processes); a test marked ``read_only`` or
    ``puts_back`` gets the one its module shares (after a ``puts_back`` test: watcher
    ``sleeper`` alone again, active, 2 processes)."""
    if not _shares(request):
        yield circusd(SLEEPER)
        return
    shared = request.getfixturevalue("shared_daemon")
    yield shared
    if request.node.get_closest_marker("puts_back"):
        _put_back(shared)


def _put_back(daemon: support.Circusd) -> None:
    for name in daemon.ok("list")["watchers"]:
        if name != "sleeper":
            daemon.ok("rm", name=name, waiting=True)
    if daemon.ok("status", name="sleeper")["status"] != "active":
        daemon.ok("start", name="sleeper", waiting=True)
    support.restore_numprocesses(daemon, "sleeper", 2)


@pytest.fixture
def httpd(request, daemon, httpd_factory):
    """A circushttpd (token login) connected to ``daemon``; a test marked ``read_only`` or
    ``puts_back`` gets the one its module shares."""
    if _shares(request):
        return request.getfixturevalue("shared_httpd")
    return httpd_factory(daemon.endpoint)


# Tests marked ``read_only`` only read circusd's state or are refused before changing
# anything (and check that nothing changed), or change only what is theirs in circushttpd
# (their own session, the wrong logins counted for an address no other test uses: 127.0.0.2),
# and tests marked ``puts_back`` change only circusd's watchers, which the ``daemon`` fixture
# puts back after them (see _put_back), so the tests of a module share one circusd and one
# circushttpd (a circusd + circushttpd start costs ~0.7 s of CPU). Tests that change
# circushttpd's state for others or start it with options of their own, but leave circusd
# alone, start their own circushttpd on the shared circusd (``own_httpd``, or ``httpd_factory`` with
# ``shared_daemon.endpoint``). Tests that change anything else keep their own circusd.


@pytest.fixture
def own_httpd(shared_daemon, httpd_factory, runtime_dir):
    """A circushttpd (token login) of the test's own, connected to the module's shared
    circusd, which the test must not change."""
    return httpd_factory(shared_daemon.endpoint)


@pytest.fixture(scope="module")
def shared_runtime_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("shared") / "run"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture(scope="module")
def shared_circus_extra() -> str:
    """The shared circusd's ``[circus]`` options (a module may override this fixture)."""
    return ""


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory, shared_runtime_dir, shared_circus_extra):
    daemon = support.Circusd(
        tmp_path_factory.mktemp("shared_circusd"), SLEEPER, shared_circus_extra
    )
    daemon.env = {**os.environ, "XDG_RUNTIME_DIR": str(shared_runtime_dir)}
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.cleanup()


@pytest.fixture(scope="module")
def shared_httpd(tmp_path_factory, shared_runtime_dir, shared_daemon):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_RUNTIME_DIR", str(shared_runtime_dir))  # what circushttpd inherits
        server = Httpd(tmp_path_factory.mktemp("shared_httpd"), shared_daemon.endpoint)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def circusd(tmp_path, runtime_dir):
    """Factory: ``circusd(body, circus_extra="")`` starts a circusd; all cleaned up after."""
    started: list[support.Circusd] = []

    def factory(body: str, circus_extra: str = "", start: bool = True, args=()):
        daemon = support.Circusd(tmp_path / f"d{len(started)}", body, circus_extra)
        started.append(daemon)
        if start:
            daemon.start(*args)
        return daemon

    yield factory
    for daemon in started:
        daemon.cleanup()
