"""An asyncio client keeps its socket monitor across calls that follow each other, as the
blocking client does, and detaches it when idle, on its own loop (circus.wire.diagnose).

circushttpd and circusd-stats call circusd in bursts (a page load, a resync lists every
watcher): attaching a monitor (``socket.monitor`` on a fresh inproc address, a PAIR reader,
``add_reader``) and detaching it at every call cost more than the call's own work. The kept
monitor must keep the module's guarantees: read as its events come (never a pair that fills),
detached once the client has been idle for ``IDLE_DETACH`` by the loop's own timer (no other
thread touches the loop's objects), or by the deadline thread once the loop is closed, and what
a call is told stays right.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest
import support
import zmq
import zmq.asyncio
from responder import Responder
from watch_timing import QUICK_DETACH

from circus.client import AsyncCircusClient
from circus.errors import CallError
from circus.wire import diagnose
from circus.wire.diagnose import ConnectionWatch

pytestmark = pytest.mark.timeout(30)

#: Calls in a row that must share one monitor.
CALLS = 20


@pytest.fixture
def attaches(monkeypatch):
    """Every monitor attached, and the thread each detach ran on (``threading.get_ident``)."""
    attached: list[ConnectionWatch] = []
    detached_on: list[int] = []
    attach, detach = ConnectionWatch._attach, ConnectionWatch._detach

    def counting_attach(watch):
        attached.append(watch)
        attach(watch)

    def noting_detach(watch):
        if watch.reader is not None:
            detached_on.append(threading.get_ident())
        detach(watch)

    monkeypatch.setattr(ConnectionWatch, "_attach", counting_attach)
    monkeypatch.setattr(ConnectionWatch, "_detach", noting_detach)
    return attached, detached_on


@pytest.fixture
def responder(tmp_path):
    server = Responder(f"ipc://{tmp_path}/ctl.sock")
    yield server
    server.close()


@contextlib.asynccontextmanager
async def async_client(endpoint: str, timeout: float):
    """An AsyncCircusClient on a context of its own, destroyed (linger 0) after it."""
    context = zmq.asyncio.Context()
    try:
        async with AsyncCircusClient(context, endpoint, timeout=timeout) as client:
            yield client
    finally:
        context.destroy(linger=0)


async def _until(predicate, timeout: float, message: str) -> None:
    """Poll ``predicate`` while the loop runs (its timers and readers with it)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.01)


def test_calls_in_a_row_share_one_monitor_then_the_loop_detaches_it(
    tmp_path, responder, attaches, quick_detach
):
    attached, detached_on = attaches

    async def scenario() -> None:
        async with async_client(f"ipc://{tmp_path}/ctl.sock", timeout=10) as client:
            for n in range(CALLS):
                assert (await client.send_message("status", n=n))["echo"] == n
            await client.cast("status")
            assert len(attached) == 1, f"{len(attached)} monitors for {CALLS} calls"
            assert client.watch.reader is not None  # kept after the last call
            # concurrent calls too
            replies = await asyncio.gather(*(client.send_message("status", n=n) for n in range(5)))
            assert [reply["echo"] for reply in replies] == list(range(5))
            assert len(attached) == 1
            await _until(
                lambda: client.watch.reader is None,
                QUICK_DETACH + 5,
                "the idle client's monitor detached",
            )
            # by the loop's own timer, on the loop's thread
            assert detached_on == [threading.get_ident()]
            assert (await client.send_message("status", n=99))["echo"] == 99
            assert len(attached) == 2  # a new one for the next burst

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_calls_closer_than_the_idle_time_keep_the_monitor(
    tmp_path, responder, attaches, quick_detach
):
    """Each call puts the detach off: calls spread over several idle times share one monitor."""
    attached, _ = attaches

    async def scenario() -> None:
        async with async_client(f"ipc://{tmp_path}/ctl.sock", timeout=10) as client:
            started = time.monotonic()
            n = 0
            while time.monotonic() - started < 3 * QUICK_DETACH:
                assert (await client.send_message("status", n=n))["echo"] == n
                n += 1
                await asyncio.sleep(QUICK_DETACH / 4)
            assert len(attached) == 1

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_a_kept_monitor_is_read_as_its_events_come(fast_retries, monkeypatch):
    """While the client is idle with its monitor kept (a long idle time here) and its circusd is
    away (a reconnection attempt every millisecond, each an event or two), the loop reads the
    events as they come, and the next call says the connection it had is lost."""
    monkeypatch.setattr(diagnose, "IDLE_DETACH", 60.0)
    applied: list[int] = []  # the calls under way when each event was read
    apply = ConnectionWatch._apply

    def noting_apply(watch, event: int, value: int) -> None:
        applied.append(watch._calls)
        apply(watch, event, value)

    monkeypatch.setattr(ConnectionWatch, "_apply", noting_apply)
    endpoint = f"tcp://127.0.0.1:{support.port_outside_ephemeral_range()}"
    responder = Responder(endpoint)

    async def scenario() -> None:
        async with async_client(endpoint, timeout=1) as client:
            assert (await client.send_message("status", n=1))["echo"] == 1
            monitor = client.watch.reader
            responder.close()
            # hundreds of reconnection attempts, read while no call is under way
            await _until(lambda: applied.count(0) > 200, 10, "the idle client's events read")
            assert client.watch.reader is monitor  # still the same monitor
            assert client.watch.lost
            with pytest.raises(CallError, match=f"^circusd at {endpoint} became unreachable"):
                await client.send_message("status", n=2)

    try:
        asyncio.run(asyncio.wait_for(scenario(), 20))
    finally:
        responder.close()


def test_a_connection_lost_while_idle_and_detached_is_told_as_lost(fast_retries, quick_detach):
    """The story is kept across the detach (the monitor's last events are read then)."""
    endpoint = f"tcp://127.0.0.1:{support.port_outside_ephemeral_range()}"
    responder = Responder(endpoint)

    async def scenario() -> None:
        async with async_client(endpoint, timeout=1) as client:
            assert (await client.send_message("status", n=1))["echo"] == 1
            responder.close()
            await _until(lambda: client.watch.reader is None, QUICK_DETACH + 5, "detach")
            with pytest.raises(CallError, match=f"^circusd at {endpoint} became unreachable"):
                await client.send_message("status", n=2)

    try:
        asyncio.run(asyncio.wait_for(scenario(), 20))
    finally:
        responder.close()


def test_a_client_left_on_a_closed_loop_has_its_monitor_detached(
    tmp_path, responder, attaches, quick_detach
):
    """A client called from ``asyncio.run`` and not stopped: its loop is gone, so the deadline
    thread detaches the monitor (nobody would read it); a later loop can still use the client."""
    attached, detached_on = attaches
    context = zmq.asyncio.Context()
    client = AsyncCircusClient(context, f"ipc://{tmp_path}/ctl.sock", timeout=10)
    try:
        assert asyncio.run(client.send_message("status", n=1))["echo"] == 1
        assert client.watch.reader is not None  # kept: the loop may go on
        support.wait_for(
            lambda: client.watch.reader is None,
            timeout=QUICK_DETACH + 10,
            message="the monitor of a client whose loop closed detached",
        )
        assert detached_on and detached_on[-1] != threading.get_ident()  # the deadline thread
        for n in (2, 3):  # another loop each time
            assert asyncio.run(client.send_message("status", n=n))["echo"] == n
        assert len(attached) == 2  # the third loop took over the second loop's monitor
    finally:
        client.stop()
        context.destroy(linger=0)
