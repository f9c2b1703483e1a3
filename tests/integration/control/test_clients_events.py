"""Clients (sync and async), events (publisher and subscribers) and CURVE, over real ZeroMQ."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import threading
import time

import pytest
import support
import zmq
import zmq.asyncio
from arbiter_server import Server

from circus.client import AsyncCircusClient, CircusClient, cast_message, make_message
from circus.errors import CallError, ConfigError
from circus.events import AsyncEventSubscriber, EventSubscriber, event_topic

pytestmark = pytest.mark.timeout(60)

#: The CURVE calls below have a 10 s timeout; a refused handshake ends them within this (libzmq
#: reports the failure within milliseconds; a loaded machine may be late by a second).
AT_ONCE = 2.5


def test_make_and_cast_message():
    assert make_message("list", name="w") == {"command": "list", "properties": {"name": "w"}}
    assert make_message("list") == {"command": "list", "properties": {}}
    assert cast_message("stop", name="w")["msg_type"] == "cast"


def test_event_topic_normalises_names():
    assert event_topic("My Web", "spawn") == "watcher.my_web.spawn"
    assert event_topic("plugin:flapping", "reap") == "watcher.plugin:flapping.reap"


class LateRouter:
    """A ROUTER that answers its first request once :attr:`release` is set (the test sets it
    when the client's call has timed out: the reply cannot beat the timeout, however loaded
    the machine) and the others at once, echoing their ids."""

    def __init__(self, endpoint: str):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        self.sock.bind(endpoint)
        self.release = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stop.is_set():
            if not self.sock.poll(50):
                continue
            identity, body = self.sock.recv_multipart()
            request = json.loads(body)
            self.release.wait(30)
            reply = {
                "status": "ok",
                "time": time.time(),
                "id": request["id"],
                "echo": request["properties"].get("n"),
            }
            self.sock.send_multipart([identity, json.dumps(reply).encode()])

    def close(self) -> None:
        self.stop.set()
        self.release.set()
        self.thread.join(5)
        self.sock.close(0)
        self.ctx.term()


def test_sync_client_timeout_then_discards_stale_reply(tmp_path):
    router = LateRouter(f"ipc://{tmp_path}/late.sock")
    try:
        with CircusClient(endpoint=f"ipc://{tmp_path}/late.sock", timeout=0.2) as client:
            started = time.monotonic()
            with pytest.raises(CallError, match=r"Timed out\."):
                client.send_message("x", n=1)
            assert time.monotonic() - started < 2.5  # its timeout, not the test's bound
            router.release.set()  # the reply to n=1 comes now, late: before the one to n=2
            reply = client.call(make_message("x", n=2), timeout=5)
            assert reply["echo"] == 2  # the late reply to n=1 was skipped
    finally:
        router.close()


def test_sync_client_call_rejects_non_mapping(ipc_server):
    with CircusClient(endpoint=ipc_server.endpoint) as client, pytest.raises(CallError):
        client.call("status")  # type: ignore[arg-type]


def test_async_client_concurrent_calls(ipc_server):
    async def scenario():
        async with AsyncCircusClient(endpoint=ipc_server.endpoint, timeout=10) as client:
            replies = await asyncio.gather(
                client.send_message("numwatchers"),
                client.send_message("status", name="sleeper"),
                client.send_message("list"),
                client.send_message("status", name="nope"),
            )
        return replies

    numwatchers, status, listing, missing = asyncio.run(scenario())
    assert numwatchers["numwatchers"] == 2
    assert status["status"] == "active"
    assert listing["watchers"] == ["other", "sleeper"]
    assert missing["reason"] == "program nope not found"


def test_async_client_timeout(tmp_path):
    router = LateRouter(f"ipc://{tmp_path}/late.sock")

    async def scenario():
        async with AsyncCircusClient(endpoint=f"ipc://{tmp_path}/late.sock", timeout=0.2) as client:
            with pytest.raises(CallError, match=r"Timed out\."):
                await client.send_message("x", n=1)
            router.release.set()  # the late reply to n=1 comes before the one to n=2
            return await client.call(make_message("x", n=2), timeout=5)

    try:
        assert asyncio.run(scenario())["echo"] == 2
    finally:
        router.close()


def test_async_client_missing_ipc_socket(tmp_path):
    async def scenario():
        async with AsyncCircusClient(endpoint=f"ipc://{tmp_path}/none.sock") as client:
            await client.send_message("status")

    with pytest.raises(CallError, match="circusd is not running"):
        asyncio.run(scenario())


def _collect(subscriber, predicate, trigger, timeout=10.0):
    """Call ``trigger`` (again, while the subscription joins) until an event matches."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        trigger()
        event = subscriber.next_event(timeout=0.5)
        while event is not None:
            if predicate(event):
                return event
            event = subscriber.next_event(timeout=0.2)
    raise AssertionError("no matching event")


def test_sync_subscriber_receives_spawn_events(ipc_server):
    with (
        CircusClient(endpoint=ipc_server.endpoint, timeout=10) as client,
        EventSubscriber(ipc_server.pubsub_endpoint, ["watcher.sleeper."]) as subscriber,
    ):
        _topic, payload = _collect(
            subscriber,
            lambda event: event[0] == "watcher.sleeper.spawn",
            lambda: client.send_message("incr", name="sleeper", waiting=True),
        )
        assert isinstance(payload["process_pid"], int) and isinstance(payload["time"], float)
        assert payload["process_pid"] in client.send_message("list", name="sleeper")["pids"]


def test_subscription_filters_other_watchers(ipc_server):
    with (
        CircusClient(endpoint=ipc_server.endpoint, timeout=10) as client,
        EventSubscriber(ipc_server.pubsub_endpoint, ["watcher.other."]) as subscriber,
    ):
        event = _collect(
            subscriber,
            lambda e: True,
            lambda: client.send_message("restart", name="other", waiting=True),
        )
        assert event[0].startswith("watcher.other.")
        client.send_message("incr", name="sleeper", waiting=True)
        while (event := subscriber.next_event(timeout=0.3)) is not None:
            assert event[0].startswith("watcher.other.")


def test_async_subscriber(tcp_server):
    async def scenario():
        subscriber = AsyncEventSubscriber(tcp_server.pubsub_endpoint, ["watcher."])
        async with AsyncCircusClient(endpoint=tcp_server.endpoint, timeout=10) as client:
            try:
                for _ in range(50):
                    await client.send_message("incr", name="sleeper", waiting=True)
                    event = await subscriber.next_event(timeout=0.3)
                    if event is not None:
                        return event
            finally:
                subscriber.close()
        return None

    event = asyncio.run(scenario())
    assert event is not None and event[0] == "watcher.sleeper.spawn"


def test_async_subscriber_iterates_a_burst_in_order(tmp_path):
    """Many queued messages (a stats feed) all come, in order, through ``async for``, which
    takes the queued ones in batches; the loop keeps turning between batches."""
    import zmq.asyncio

    endpoint = f"ipc://{tmp_path}/burst.sock"
    count = 1000

    async def scenario():
        context = zmq.asyncio.Context()
        pub = context.socket(zmq.PUB)
        pub.linger = 0
        pub.sndhwm = 0
        pub.bind(endpoint)
        subscriber = AsyncEventSubscriber(endpoint, ["stat."], context=context)
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        tick_task = asyncio.create_task(ticker())
        try:
            while await subscriber.next_event(timeout=0.05) is None:  # the subscription joins
                await pub.send_multipart([b"stat.probe", b"{}"])
            for i in range(count):
                await pub.send_multipart([f"stat.w.{i}".encode(), b'{"i": %d}' % i])
            await pub.send_multipart([b"stat.end", b"{}"])
            seen = []
            async for topic, payload in subscriber:
                if topic == "stat.end":
                    break
                if topic.startswith("stat.w."):
                    seen.append(payload["i"])
            return seen, ticks
        finally:
            tick_task.cancel()
            subscriber.close()
            pub.close()
            context.term()

    seen, ticks = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert seen == list(range(count))
    assert ticks > 0


def test_async_subscriber_cancelled_as_an_event_comes_ends_cancelled(tmp_path):
    """A task cancelled in the loop iteration where its ``next_event(timeout)`` gets an event
    ends cancelled (asyncio.wait_for, in Python 3.11, returned the event and dropped the
    cancellation: a loop of next_event calls went on after it was cancelled)."""

    async def scenario():
        context = zmq.asyncio.Context()
        subscriber = AsyncEventSubscriber(f"ipc://{tmp_path}/e.sock", ["x."], context=context)
        loop = asyncio.get_running_loop()
        frames = loop.create_future()
        futures = iter([frames])  # the event comes when the test says; then none
        subscriber._socket.recv_multipart = lambda: next(futures, None) or loop.create_future()

        async def listener():
            while True:
                await subscriber.next_event(timeout=5)

        task = asyncio.create_task(listener())
        try:
            await asyncio.sleep(0)  # waiting for the event
            frames.add_done_callback(lambda _: task.cancel())  # cancelled as the event comes
            frames.set_result([b"x.y", b"{}"])
            done, _ = await asyncio.wait([task], timeout=3)
            return bool(done) and task.cancelled()
        finally:
            task.cancel()
            subscriber.close()
            context.destroy(linger=0)

    assert asyncio.run(scenario())


# --- CURVE ---------------------------------------------------------------------------------------


@pytest.fixture
def curve_server(tmp_path, runtime_dir):
    from types import SimpleNamespace

    keys = support.curve_keys(tmp_path, others=("intruder",))
    server = Server(
        tmp_path,
        f"tcp://127.0.0.1:{support.free_port()}",
        f"tcp://127.0.0.1:{support.free_port()}",
        {"curve_secret_key": keys.secret(), "curve_public_keys": str(keys.authorized)},
        watchers=(("sleeper", {"numprocesses": 1}),),
    ).start()
    yield SimpleNamespace(
        server=server,
        client_secret=keys.secret("client"),
        intruder_secret=keys.secret("intruder"),
        server_public=keys.public(),
    )
    server.stop()


def test_curve_authorised_client_is_served(curve_server):
    with CircusClient(
        endpoint=curve_server.server.endpoint,
        timeout=10,
        curve_secret_key=curve_server.client_secret,
        curve_server_key=curve_server.server_public,
    ) as client:
        assert client.send_message("numwatchers")["numwatchers"] == 1


@pytest.mark.parametrize(
    ("who", "message"),
    [
        # PROTOCOL's verdict, or (every attempt closed without a reason: a loaded machine) the
        # message that names CURVE among the causes
        ("plain", r"requires CURVE: give --curve-secret-key|requires CURVE does so too"),
        ("intruder", r"refused this client's CURVE key \(status 400\)"),
        ("wrong server key", r"--curve-server-key is not the public key of the circusd there"),
    ],
)
def test_curve_refusals_say_why(curve_server, who, message):
    """Each way a CURVE connection fails has its own message, not a generic time-out."""
    keys = {
        "plain": {},
        "intruder": {
            "curve_secret_key": curve_server.intruder_secret,
            "curve_server_key": curve_server.server_public,
        },
        "wrong server key": {
            "curve_secret_key": curve_server.client_secret,
            "curve_server_key": curve_server.intruder_secret,  # a key, not the server's
        },
    }[who]
    with CircusClient(endpoint=curve_server.server.endpoint, timeout=10, **keys) as client:
        # the verdict ends the call at once, not its timeout; so does the next call (after a
        # refused key libzmq takes no message: it waited the whole timeout in its send)
        for _ in range(2):
            started = time.monotonic()
            with pytest.raises(CallError, match=message):
                client.send_message("numwatchers")
            assert time.monotonic() - started < AT_ONCE


def test_circusctl_says_at_once_that_its_key_is_refused(curve_server, capsys):
    from circus.cli import circusctl

    started = time.monotonic()
    code = circusctl.main(
        [
            "--endpoint",
            curve_server.server.endpoint,
            "--timeout",
            "10",
            "--curve-secret-key",
            curve_server.intruder_secret,
            "--curve-server-key",
            curve_server.server_public,
            "status",
        ]
    )
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 1
    assert f"circusd at {curve_server.server.endpoint} refused this client's CURVE key" in err
    assert elapsed < AT_ONCE


def test_curve_client_against_a_plain_circusd_says_so(curve_server, tmp_path, runtime_dir):
    (tmp_path / "plain").mkdir()
    server = Server(
        tmp_path / "plain",
        f"tcp://127.0.0.1:{support.free_port()}",
        f"tcp://127.0.0.1:{support.free_port()}",
        {},
        watchers=(("sleeper", {"numprocesses": 1}),),
    ).start()
    try:
        started = time.monotonic()
        with (
            CircusClient(
                endpoint=server.endpoint,
                timeout=10,
                curve_secret_key=curve_server.client_secret,
                curve_server_key=curve_server.server_public,
            ) as client,
            pytest.raises(
                CallError,
                # PROTOCOL's verdict; on a loaded machine every attempt may end with the
                # connection closed (NO_DETAIL), whose message names both causes
                match=(
                    f"circusd at {re.escape(server.endpoint)} does not use CURVE: drop "
                    "--curve-secret-key|or circusd there does not use CURVE$"
                ),
            ),
        ):
            client.send_message("numwatchers")
        assert time.monotonic() - started < AT_ONCE
    finally:
        server.stop()


def test_unreachable_and_silent_endpoints_say_which(runtime_dir):
    import zmq

    nobody = f"tcp://127.0.0.1:{support.free_port()}"
    with (
        CircusClient(endpoint=nobody, timeout=0.5) as client,
        pytest.raises(CallError, match=r"cannot reach circusd at .*nothing answers there"),
    ):
        client.send_message("numwatchers")
    context = zmq.Context.instance()
    silent = context.socket(zmq.ROUTER)  # accepts, never answers: a hung circusd
    port = silent.bind_to_random_port("tcp://127.0.0.1")
    try:
        with (
            CircusClient(endpoint=f"tcp://127.0.0.1:{port}", timeout=0.5) as client,
            pytest.raises(CallError, match=r"^Timed out\. \(connected to .*did not answer\)"),
        ):
            client.send_message("numwatchers")
    finally:
        silent.close(linger=0)


@pytest.mark.parametrize("who", ["intruder", "wrong server key", "plain"])
def test_async_client_says_why_too_at_once(curve_server, who):
    keys, message = {
        "intruder": (
            {
                "curve_secret_key": curve_server.intruder_secret,
                "curve_server_key": curve_server.server_public,
            },
            f"circusd at {curve_server.server.endpoint} refused this client's CURVE key",
        ),
        "wrong server key": (
            {
                "curve_secret_key": curve_server.client_secret,
                "curve_server_key": curve_server.intruder_secret,
            },
            "--curve-server-key is not the public key of the circusd there",
        ),
        "plain": ({}, f"circusd at {curve_server.server.endpoint} requires CURVE"),
    }[who]

    async def scenario():
        async with AsyncCircusClient(
            endpoint=curve_server.server.endpoint, timeout=10, **keys
        ) as client:
            for _ in range(2):  # the next call too
                started = time.monotonic()
                with pytest.raises(CallError, match=message):
                    await client.send_message("numwatchers")
                assert time.monotonic() - started < AT_ONCE

    asyncio.run(scenario())


def test_curve_events_need_keys_too(curve_server):
    with (
        CircusClient(
            endpoint=curve_server.server.endpoint,
            timeout=10,
            curve_secret_key=curve_server.client_secret,
            curve_server_key=curve_server.server_public,
        ) as client,
        EventSubscriber(
            curve_server.server.pubsub_endpoint,
            ["watcher."],
            curve_secret_key=curve_server.client_secret,
            curve_server_key=curve_server.server_public,
        ) as subscriber,
    ):
        event = _collect(
            subscriber,
            lambda e: e[0] == "watcher.sleeper.spawn",
            lambda: client.send_message("incr", name="sleeper", waiting=True),
        )
        assert event[1]["process_pid"] > 0


def test_remote_tcp_without_curve_is_refused(tmp_path, runtime_dir):
    """By the configuration check, and by the controller itself (for library users who build
    one without a checked configuration)."""
    from types import SimpleNamespace

    from circus.control.controller import Controller

    remote = f"tcp://0.0.0.0:{support.free_port()}"
    with pytest.raises(ConfigError, match="accepts connections from other machines"):
        Server(tmp_path, remote, f"tcp://127.0.0.1:{support.free_port()}").start()

    async def bind():
        settings = SimpleNamespace(curve_secret_key=None, curve_public_keys=None)
        context = zmq.asyncio.Context()
        try:
            await Controller(None, remote, settings, context=context).start()
        finally:
            context.destroy(linger=0)

    with pytest.raises(ConfigError, match="needs CURVE keys"):
        asyncio.run(bind())


def test_half_curve_settings_are_a_config_error(tmp_path):
    from types import SimpleNamespace

    from circus.wire.security import CurveServer

    with pytest.raises(ConfigError, match="must be given together"):
        CurveServer.from_settings(SimpleNamespace(curve_secret_key="x", curve_public_keys=None))
    with pytest.raises(ConfigError, match="not a directory"):
        CurveServer(str(tmp_path / "k"), str(tmp_path / "none")).load()


@pytest.fixture
def default_sigint():
    """SIGINT raising KeyboardInterrupt and no wakeup fd, as in a fresh tool (an asyncio loop
    of an earlier test in this worker may have left its handler and wakeup fd behind)."""
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    wakeup = signal.set_wakeup_fd(-1)
    yield
    signal.set_wakeup_fd(wakeup)
    signal.signal(signal.SIGINT, handler)


def test_a_ctrl_c_ends_a_subscribers_wait_however_it_is_delivered(tmp_path, default_sigint):
    """A SIGINT that another thread takes (as one arriving just before the poll's system call
    does) interrupts nothing in zmq_poll: the wakeup fd ends the wait at once anyway."""
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    pub.linger = 0
    pub.bind(f"ipc://{tmp_path}/quiet.sock")
    subscriber = EventSubscriber(f"ipc://{tmp_path}/quiet.sock", context=context)
    sender = threading.Thread(target=lambda: time.sleep(0.3) or signal.raise_signal(signal.SIGINT))
    try:
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            sender.start()  # raise_signal runs the C handler in the sender thread
            subscriber.next_event(timeout=20)
        assert time.monotonic() - started < 10  # not the 20 s wait
    finally:
        sender.join()
        subscriber.close()
        pub.close()
        context.term()
    assert signal.set_wakeup_fd(-1) == -1  # given back on close
