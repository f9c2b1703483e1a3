"""Fixtures of the control-channel integration tests: the real Arbiter (on a FakeHost) served
over ipc or tcp."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # makes arbiter_server importable

from arbiter_server import Server


@pytest.fixture
def ipc_server(tmp_path, runtime_dir):
    server = Server(tmp_path, f"ipc://{tmp_path}/ctl.sock", f"ipc://{tmp_path}/pub.sock").start()
    yield server
    server.stop()


@pytest.fixture
def tcp_server(tmp_path, runtime_dir):
    import support

    server = Server(
        tmp_path,
        f"tcp://127.0.0.1:{support.free_port()}",
        f"tcp://127.0.0.1:{support.free_port()}",
    ).start()
    yield server
    server.stop()
