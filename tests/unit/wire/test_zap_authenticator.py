"""circusd's ZAP authenticator (CURVE) is stopped by the last of its users, every time, and a new
one starts right after the last stopped.

Seen once in a single-process test run: ``ZMQError: Address already in use
(inproc://zeromq.zap.01)``. libzmq unbinds a closed socket's inproc address in its reaper
thread, a moment after the close: an arbiter started in the same process right after another
with CURVE (tests, a library program) bound the ZAP address before it was free. And a start that
failed after the authenticator was up (the PUB or ROUTER bind refused) left it running.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
import support
import zmq
import zmq.asyncio

from circus.control.controller import Controller
from circus.errors import ConfigError
from circus.events import EventPublisher
from circus.wire import security

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def curve(tmp_path):
    keys = support.curve_keys(tmp_path)
    return security.CurveServer(keys.secret(), str(keys.authorized))


@pytest.fixture
def context():
    ctx = zmq.asyncio.Context()
    yield ctx
    ctx.destroy(linger=0)


def _running(context) -> bool:
    return id(context) in security._AUTHENTICATORS


def test_an_authenticator_starts_again_right_after_it_stopped(curve, context):
    async def scenario() -> None:
        for _ in range(1000):  # before the fix, one of them raised EADDRINUSE (most runs)
            security.ensure_authenticator(context, curve)
            security.release_authenticator(context)
        assert not _running(context)

    asyncio.run(scenario())


def test_the_last_user_stops_it(curve, context):
    async def scenario() -> None:
        security.ensure_authenticator(context, curve)  # the event publisher
        security.ensure_authenticator(context, curve)  # the controller
        security.release_authenticator(context)
        assert _running(context)
        security.release_authenticator(context)
        assert not _running(context)

    asyncio.run(scenario())


class _Settings:
    def __init__(self, curve: security.CurveServer) -> None:
        self.curve_secret_key = curve.secret_key_file
        self.curve_public_keys = curve.public_keys_dir


def test_a_publisher_whose_bind_fails_stops_the_authenticator_it_started(curve, context):
    async def scenario() -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = f"tcp://127.0.0.1:{taken.getsockname()[1]}"
            with pytest.raises(zmq.ZMQError):
                EventPublisher(busy, _Settings(curve), context=context)
        assert not _running(context)
        publisher = EventPublisher(
            f"tcp://127.0.0.1:{support.free_port()}", _Settings(curve), context=context
        )
        assert _running(context)
        publisher.close()
        assert not _running(context)

    asyncio.run(scenario())


def test_a_controller_whose_bind_fails_stops_the_authenticator_it_started(curve, context):
    class Arbiter:  # what the controller reads of the arbiter before it serves
        settings = _Settings(curve)

    async def scenario() -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = f"tcp://127.0.0.1:{taken.getsockname()[1]}"
            controller = Controller(Arbiter(), busy, Arbiter.settings, context=context)
            with pytest.raises((zmq.ZMQError, ConfigError)):
                await controller.start()
            await controller.stop()
        assert not _running(context)

    asyncio.run(scenario())
