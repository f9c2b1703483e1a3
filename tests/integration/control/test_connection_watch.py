"""The socket monitor that explains a timed-out call must never stall ZeroMQ.

libzmq writes a monitored socket's events into an inproc PAIR from the context's I/O thread,
and that write blocks the I/O thread when the pair is full (about 2000 unread events) or its
reader is closed. A client whose monitor nobody reads (one left idle while its circusd is away,
reconnecting every 100 ms; one never stopped) thus froze every socket of its context: in the
xdist worker that ran circusctl in-process, the next client saw no connection at all and said
"nothing answers there" with a ROUTER listening, and status polls to a ready circusd failed for
20 s. These tests retry every millisecond (about 1500 events a second per endpoint), and a
client that is not called again is also connected to more absent endpoints (:func:`_flood`):
thousands of events in half a second.
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

from circus.client import AsyncCircusClient, CircusClient
from circus.errors import CallError
from circus.wire import diagnose

pytestmark = pytest.mark.timeout(60)

#: What the monitor's pair holds with ZeroMQ's default high-water marks (1000 messages at each
#: end): more events than this unread blocked the I/O thread before the fix.
PAIR_CAPACITY = 2000
#: Absent endpoints a flooded client (:func:`_flood`) reconnects to, besides its own.
FLOOD = 15
#: How long a flooded client stays idle: 16 endpoints make about 10,000 events in it (5 times
#: the pair's capacity; the unread count is checked where the monitor stays attached).
FLOOD_IDLE = 0.5
#: How long a call waits for circusd to come back: about 1300 events at a retry per
#: millisecond, which the call must read as they come (checked: :func:`applied`).
ABSENCE = 1.0
#: A call to a silent ROUTER: connected (ipc, in milliseconds), then no answer.
SILENT_TIMEOUT = 1.0


def _flood(client: CircusClient, directory) -> None:
    """Connect ``client``'s socket to :data:`FLOOD` more absent ipc endpoints: each is a
    reconnection attempt per millisecond too, so its monitor gets more events than its pair
    holds in a fraction of a second. Only for a client not called again (its socket would
    queue a request for them)."""
    for index in range(FLOOD):
        client.socket.connect(f"ipc://{directory}/absent{index}.sock")


def _unread(monitor: zmq.Socket) -> int:
    """Read every event waiting in ``monitor`` (a monitor's reader); how many there were."""
    count = 0
    with contextlib.suppress(zmq.Again):
        while True:
            monitor.recv_multipart(zmq.NOBLOCK)
            count += 1
    return count


def _wait_detached(client: CircusClient) -> None:
    """Until the deadline thread detached ``client``'s monitor, then a few hundred more
    reconnection attempts, unmonitored."""
    support.wait_for(
        lambda: client.watch.reader is None,
        timeout=diagnose.IDLE_DETACH + 10,
        interval=0.05,
        message="the idle client's monitor detached",
    )
    time.sleep(0.2)


@pytest.fixture
def context():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def test_a_client_idle_while_its_circusd_is_away_does_not_blind_another(
    tmp_path, context, fast_retries
):
    """The CI failure: a silent ROUTER listens, yet the call said 'nothing answers there'.
    The idle client's monitor gets more events than its pair holds, then the deadline thread
    detaches it (``diagnose.IDLE_DETACH``, its default), then another client calls."""
    gone = f"ipc://{tmp_path}/gone.sock"
    responder = Responder(gone)
    idle = CircusClient(context, gone, timeout=5)
    silent = Responder(f"ipc://{tmp_path}/silent.sock")
    silent.answering = False  # accepts connections, never answers: a hung circusd
    try:
        assert idle.send_message("status", n=1)["echo"] == 1
        responder.close()  # its circusd stops; the client stays, as in an open circusctl shell
        _flood(idle, tmp_path)
        _wait_detached(idle)
        with (
            CircusClient(
                context, f"ipc://{tmp_path}/silent.sock", timeout=SILENT_TIMEOUT
            ) as client,
            pytest.raises(CallError) as error,
        ):
            client.send_message("status")
        assert str(error.value).startswith(
            f"Timed out. (connected to ipc://{tmp_path}/silent.sock, but circusd did not answer)"
        ), error.value
    finally:
        idle.watch.explain()  # (before the fix, only reading its monitor freed the I/O thread)
        idle.stop()
        silent.close()


def test_an_idle_client_gets_its_answer_once_circusd_is_back(
    tmp_path, context, fast_retries, quick_detach
):
    endpoint = f"ipc://{tmp_path}/ctl.sock"
    responder = Responder(endpoint)
    client = CircusClient(context, endpoint, timeout=10)
    try:
        assert client.send_message("status", n=1)["echo"] == 1
        responder.close()
        _wait_detached(client)  # away a while, then back at the same endpoint
        responder = Responder(endpoint)
        assert client.send_message("status", n=2)["echo"] == 2
    finally:
        client.stop()
        responder.close()


@pytest.fixture
def applied(monkeypatch) -> list[float]:
    """When (monotonic) each monitor event was applied by a connection watch, i.e. read."""
    times: list[float] = []
    original = diagnose.ConnectionWatch._apply

    def apply(watch, event: int, value: int) -> None:
        times.append(time.monotonic())
        original(watch, event, value)

    monkeypatch.setattr(diagnose.ConnectionWatch, "_apply", apply)
    return times


def _back_later(endpoint: str, started: list[Responder], back: list[float]) -> threading.Timer:
    def come_back() -> None:
        back.append(time.monotonic())
        started.append(Responder(endpoint))

    timer = threading.Timer(ABSENCE, come_back)
    timer.start()
    return timer


def _read_while_away(applied: list[float], back: list[float]) -> None:
    """The refused connects of the absence were read as they came, while the call waited,
    not after the reply (unread, they stalled ZeroMQ's I/O thread once the pair was full)."""
    away = [when for when in applied if when < back[0]]
    assert len(away) > 100, f"{len(away)} events read during the absence"
    assert away[-1] > back[0] - ABSENCE / 2, "the monitor was not read as the events came"


def test_a_call_that_outlasts_the_absence_of_circusd_gets_its_reply(context, fast_retries, applied):
    """The monitor fills up during the call itself: it must be read while the call waits
    (``refused_grace=None``: the refused connects of the absence do not end the call)."""
    endpoint = f"tcp://127.0.0.1:{support.port_outside_ephemeral_range()}"
    started: list[Responder] = []
    back: list[float] = []
    client = CircusClient(context, endpoint, timeout=ABSENCE + 10, refused_grace=None)
    timer = _back_later(endpoint, started, back)
    try:
        assert client.send_message("status", n=1)["echo"] == 1
        _read_while_away(applied, back)
    finally:
        timer.join()
        client.stop()
        for responder in started:
            responder.close()


def test_an_async_call_that_outlasts_the_absence_of_circusd_gets_its_reply(fast_retries, applied):
    endpoint = f"tcp://127.0.0.1:{support.port_outside_ephemeral_range()}"
    started: list[Responder] = []
    back: list[float] = []

    async def scenario():
        context = zmq.asyncio.Context()
        try:
            async with AsyncCircusClient(
                context, endpoint, timeout=ABSENCE + 10, refused_grace=None
            ) as client:
                return await client.send_message("status", n=1)
        finally:
            context.destroy(linger=0)

    timer = _back_later(endpoint, started, back)
    try:
        assert asyncio.run(scenario())["echo"] == 1
        _read_while_away(applied, back)
    finally:
        timer.join()
        for responder in started:
            responder.close()


def test_a_connection_lost_while_idle_is_told_as_lost(context, fast_retries, quick_detach):
    """Between calls nobody reads the monitor (it is detached, reading what came); the next
    call still learns what happened."""
    endpoint = f"tcp://127.0.0.1:{support.port_outside_ephemeral_range()}"
    responder = Responder(endpoint)
    client = CircusClient(context, endpoint, timeout=1)
    try:
        assert client.send_message("status", n=1)["echo"] == 1
        responder.close()
        _wait_detached(client)
        with pytest.raises(CallError, match=f"^circusd at {endpoint} became unreachable"):
            client.send_message("status", n=2)
    finally:
        client.stop()


def test_connected_but_silent_is_told_after_an_earlier_answer(tmp_path, context):
    endpoint = f"ipc://{tmp_path}/ctl.sock"
    responder = Responder(endpoint)
    client = CircusClient(context, endpoint, timeout=1)
    try:
        assert client.send_message("status", n=1)["echo"] == 1
        responder.answering = False
        with pytest.raises(CallError, match=r"^Timed out\. \(connected to .*did not answer\)"):
            client.send_message("status", n=2)
    finally:
        client.stop()
        responder.close()


def test_a_client_dropped_unstopped_does_not_freeze_its_context(tmp_path, context, fast_retries):
    """Stop your clients; one garbage-collected before its first call must still not take
    ZeroMQ's I/O thread with it (its monitor's reader closed before the monitor stopped)."""
    import gc

    dropped = CircusClient(context, f"ipc://{tmp_path}/gone.sock", timeout=1)
    time.sleep(0.2)  # reconnection attempts, each an event
    del dropped
    gc.collect()
    silent = Responder(f"ipc://{tmp_path}/silent.sock")
    silent.answering = False
    try:
        with (
            CircusClient(
                context, f"ipc://{tmp_path}/silent.sock", timeout=SILENT_TIMEOUT
            ) as client,
            pytest.raises(CallError, match=r"^Timed out\. \(connected to .*did not answer\)"),
        ):
            client.send_message("status")
    finally:
        silent.close()


@pytest.fixture
def refusing_curve_router(tmp_path):
    """A CURVE ROUTER whose authenticator knows no client key: every client is refused (400)."""
    import zmq.auth
    from zmq.auth.thread import ThreadAuthenticator

    keys = support.curve_keys(tmp_path, clients=(), others=("client",))
    ctx = zmq.Context()
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(keys.authorized))
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    router.curve_server = True
    router.curve_publickey, router.curve_secretkey = zmq.auth.load_certificate(keys.secret())
    port = router.bind_to_random_port("tcp://127.0.0.1")
    yield f"tcp://127.0.0.1:{port}", keys.client()
    router.close(0)
    auth.stop()
    ctx.term()


def test_an_async_call_with_a_refused_key_ends_at_once(refusing_curve_router):
    """After a refused handshake libzmq takes no message on the socket: a call and a cast that
    start then end at once with the refusal (a send waited for ever: 1 run in 3 of the CURVE
    test; then the call's whole timeout)."""
    endpoint, keys = refusing_curve_router

    async def scenario():
        context = zmq.asyncio.Context()
        try:
            async with AsyncCircusClient(context, endpoint, timeout=10, **keys) as client:
                support.wait_for(
                    lambda: not client.socket.getsockopt(zmq.EVENTS) & zmq.POLLOUT,
                    message="the refusal (the socket takes no message)",
                )
                started = time.monotonic()
                with pytest.raises(CallError, match="refused this client's CURVE key"):
                    await asyncio.wait_for(client.send_message("status"), 10)
                with pytest.raises(CallError, match="refused this client's CURVE key"):
                    await asyncio.wait_for(client.cast("status"), 10)
                return time.monotonic() - started
        finally:
            context.destroy(linger=0)

    assert asyncio.run(scenario()) < 2.5


def test_a_call_made_after_the_refusal_ends_at_once(refusing_curve_router):
    """The refusal comes before the first call (the events unread): the send, which libzmq no
    longer takes, ends at once with the refusal, not at the timeout (circusctl, which makes its
    client a few ms before its call, waited its whole --timeout 1 run in 5)."""
    endpoint, keys = refusing_curve_router
    context = zmq.Context()
    try:
        with CircusClient(context, endpoint, timeout=10, **keys) as client:
            support.wait_for(
                lambda: not client.socket.getsockopt(zmq.EVENTS) & zmq.POLLOUT,
                message="the refusal (the socket takes no message)",
            )
            for call in (client.send_message, client.cast):
                started = time.monotonic()
                with pytest.raises(CallError, match="refused this client's CURVE key"):
                    call("status")
                assert time.monotonic() - started < 2.5
    finally:
        context.destroy(linger=0)


# --- the monitor kept between calls (the cost of attaching it: ~70 µs of CPU per call) ---------


def test_calls_that_follow_each_other_share_one_monitor(tmp_path, context):
    endpoint = f"ipc://{tmp_path}/ctl.sock"
    responder = Responder(endpoint)
    client = CircusClient(context, endpoint, timeout=5)
    try:
        assert client.send_message("status", n=1)["echo"] == 1
        monitor = client.watch.reader
        assert monitor is not None
        assert client.send_message("status", n=2)["echo"] == 2
        assert client.watch.reader is monitor
        support.wait_for(  # idle: the deadline thread detaches it
            lambda: client.watch.reader is None, timeout=diagnose.IDLE_DETACH + 10
        )
        assert client.send_message("status", n=3)["echo"] == 3
    finally:
        client.stop()
        responder.close()


def test_a_client_never_called_holds_no_monitor_for_long(
    tmp_path, context, fast_retries, quick_detach
):
    client = CircusClient(context, f"ipc://{tmp_path}/gone.sock", timeout=1)
    try:
        support.wait_for(lambda: client.watch.reader is None, timeout=QUICK_DETACH + 10)
        with pytest.raises(CallError, match="not running"):  # no socket file: said at once
            client.send_message("status")
    finally:
        client.stop()


def test_a_monitor_kept_and_unread_does_not_freeze_its_context(
    tmp_path, context, fast_retries, monkeypatch
):
    """Between calls nobody reads the monitor: its pair must take every event (thousands
    here) rather than block ZeroMQ's I/O thread, whatever the idle time before it is detached."""
    monkeypatch.setattr(diagnose, "IDLE_DETACH", 60.0)
    gone = f"ipc://{tmp_path}/gone.sock"
    responder = Responder(gone)
    idle = CircusClient(context, gone, timeout=5)
    silent = Responder(f"ipc://{tmp_path}/silent.sock")
    silent.answering = False
    try:
        assert idle.send_message("status", n=1)["echo"] == 1
        responder.close()
        _flood(idle, tmp_path)
        time.sleep(FLOOD_IDLE)
        assert idle.watch.reader is not None  # still attached, unread
        with (
            CircusClient(
                context, f"ipc://{tmp_path}/silent.sock", timeout=SILENT_TIMEOUT
            ) as client,
            pytest.raises(CallError, match=r"^Timed out\. \(connected to .*did not answer\)"),
        ):
            client.send_message("status")
        unread = _unread(idle.watch.reader)
        assert unread > PAIR_CAPACITY, f"only {unread} events: the pair was never full"
    finally:
        idle.stop()
        silent.close()
