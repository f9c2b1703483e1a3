"""A call to an endpoint where nothing listens fails within a fraction of a second.

After a ``kill -9`` of circusd its ipc socket file stays; ZeroMQ's connect to it is refused
(ECONNREFUSED), as to a tcp port nobody listens on, and ZeroMQ retries silently every 100 ms:
circusctl waited its whole ``--timeout`` before saying anything. Refused connects now end the
call once they have lasted a short grace (a circusd being restarted binds within it).
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import support
import zmq
import zmq.asyncio
from responder import Responder

from circus.cli import circusctl
from circus.client import AsyncCircusClient, CircusClient
from circus.errors import CallError

pytestmark = pytest.mark.timeout(60)

#: The calls below have a 10 s timeout; an answer within this is "at once" (the grace is
#: 0.5 s, and a loaded machine may be late by a few reconnection intervals).
AT_ONCE = 2.5


def _stale_socket_file(path: str) -> str:
    """An ipc endpoint whose socket file is there with nothing listening: what circusd killed
    with SIGKILL leaves."""
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
    return f"ipc://{path}"


def _circusctl(capsys, *argv: str) -> tuple[int, str, float]:
    started = time.monotonic()
    code = circusctl.main(list(argv))
    elapsed = time.monotonic() - started
    return code, capsys.readouterr().err, elapsed


def test_circusctl_says_at_once_that_circusd_is_not_running_at_a_left_socket_file(
    capsys, tmp_path, runtime_dir
):
    endpoint = _stale_socket_file(f"{tmp_path}/circus.sock")
    code, err, elapsed = _circusctl(capsys, "--endpoint", endpoint, "--timeout", "10", "status")
    assert code == 1
    assert err.startswith(f"circusd is not running at {endpoint}: "), err
    assert "nothing listens on its socket file" in err, err
    assert elapsed < AT_ONCE, elapsed


def test_circusctl_says_at_once_that_nothing_answers_at_a_closed_tcp_port(capsys, runtime_dir):
    endpoint = f"tcp://127.0.0.1:{support.port_outside_ephemeral_range()}"
    code, err, elapsed = _circusctl(capsys, "--endpoint", endpoint, "--timeout", "10", "status")
    assert code == 1
    assert err.startswith(f"cannot reach circusd at {endpoint}: nothing answers there"), err
    assert elapsed < AT_ONCE, elapsed


def test_an_async_call_to_a_left_socket_file_fails_at_once(tmp_path):
    endpoint = _stale_socket_file(f"{tmp_path}/circus.sock")

    async def scenario() -> float:
        context = zmq.asyncio.Context()
        try:
            async with AsyncCircusClient(context, endpoint, timeout=10) as client:
                started = time.monotonic()
                with pytest.raises(CallError, match=f"^circusd is not running at {endpoint}: "):
                    await client.send_message("status")
                return time.monotonic() - started
        finally:
            context.destroy(linger=0)

    assert asyncio.run(scenario()) < AT_ONCE


def test_a_circusd_that_binds_within_the_grace_answers_the_call(tmp_path):
    """A circusd being restarted: its predecessor's socket file is refused for a moment."""
    endpoint = _stale_socket_file(f"{tmp_path}/circus.sock")
    started: list[Responder] = []

    async def scenario() -> dict:
        context = zmq.asyncio.Context()
        try:
            async with AsyncCircusClient(context, endpoint, timeout=10) as client:
                call = asyncio.ensure_future(client.send_message("status", n=1))
                while client.watch.refused_since is None:  # a first connect was refused
                    await asyncio.sleep(0.005)
                started.append(Responder(endpoint))  # the new circusd binds
                return await call
        finally:
            context.destroy(linger=0)

    try:
        assert asyncio.run(scenario())["echo"] == 1
    finally:
        for responder in started:
            responder.close()


def test_a_client_without_the_grace_waits_the_whole_timeout(tmp_path):
    """``refused_grace=None``: a library caller that waits for a circusd to come up."""
    endpoint = _stale_socket_file(f"{tmp_path}/circus.sock")
    context = zmq.Context()
    client = CircusClient(context, endpoint, timeout=1.5, refused_grace=None)
    try:
        started = time.monotonic()
        with pytest.raises(CallError, match=f"^circusd is not running at {endpoint}: "):
            client.send_message("status")
        assert time.monotonic() - started >= 1.4
    finally:
        client.stop()
        context.destroy(linger=0)
