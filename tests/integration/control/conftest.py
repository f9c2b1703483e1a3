"""Fixtures of the control-channel integration tests: a MiniArbiter served over ipc or tcp."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # makes mini_arbiter importable

from mini_arbiter import Server

DEFAULT_WATCHERS = (("sleeper", {"numprocesses": 2}), ("Other", {"autostart": False}))


@pytest.fixture
def ipc_server(tmp_path):
    server = Server(
        f"ipc://{tmp_path}/ctl.sock", f"ipc://{tmp_path}/pub.sock", watchers=DEFAULT_WATCHERS
    ).start()
    yield server
    server.stop()


@pytest.fixture
def tcp_server():
    import support

    server = Server(
        f"tcp://127.0.0.1:{support.free_port()}",
        f"tcp://127.0.0.1:{support.free_port()}",
        watchers=DEFAULT_WATCHERS,
    ).start()
    yield server
    server.stop()
