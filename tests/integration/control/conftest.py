"""Fixtures of the control-channel integration tests: the real Arbiter (on a FakeHost) served
over ipc or tcp."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # makes arbiter_server importable

from arbiter_server import Server
from watch_timing import QUICK_DETACH


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


@pytest.fixture
def quick_detach(monkeypatch):
    """An idle client's monitor is detached after :data:`watch_timing.QUICK_DETACH`."""
    from circus.wire import diagnose

    monkeypatch.setattr(diagnose, "IDLE_DETACH", QUICK_DETACH)


@pytest.fixture
def fast_retries(monkeypatch):
    """Clients reconnect every millisecond (ZeroMQ's default is 100 ms): many events."""
    import zmq

    import circus.client
    from circus.wire.diagnose import heartbeat

    def fast(socket, timeout):
        heartbeat(socket, timeout)
        socket.setsockopt(zmq.RECONNECT_IVL, 1)

    monkeypatch.setattr(circus.client, "heartbeat", fast)
