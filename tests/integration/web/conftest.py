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


@pytest.fixture
def daemon(circusd):
    """A circusd with one watcher, ``sleeper`` (2 processes)."""
    return circusd(SLEEPER)


@pytest.fixture
def httpd(daemon, httpd_factory):
    """A circushttpd (token login) connected to ``daemon``."""
    return httpd_factory(daemon.endpoint)


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
