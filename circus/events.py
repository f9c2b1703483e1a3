"""Events: circusd's PUB socket and subscriber helpers (circusctl listen, plugins, stats).

Wire format (as the original Circus): each event is two frames, the topic
``watcher.<name>.<event>`` (UTF-8; ``<name>`` lower-cased with spaces replaced by ``_``) and a
JSON object, e.g. ``watcher.web.spawn`` / ``{"process_pid": 1234, "time": 1700000000.5}``.
Subscribers filter by topic prefix (``watcher.web.`` for one watcher, ``""`` for all).

Publishing never blocks: PUB drops messages for subscribers that do not keep up (ZeroMQ's high
water mark), which is the right trade for a monitoring feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

import zmq
import zmq.asyncio

from circus.util.signal_wakeup import SignalWakeup
from circus.wire import boundedjson, security, tunnel

log = logging.getLogger(__name__)

TOPIC_PREFIX = "watcher."
EVENT_NAMES = (
    "spawn",
    "reap",
    "kill",
    "stop",
    "start",
    "reload",
    "updated",
    "add",
    "remove",
    "hook_success",
    "hook_failure",
    "outdated",
)


def resource_name(watcher_name: str) -> str:
    """The watcher name as it appears in topics (lower case, spaces as ``_``)."""
    return watcher_name.lower().replace(" ", "_")


def event_topic(watcher_name: str, event: str) -> str:
    """``watcher.<normalised name>.<event>``."""
    return f"{TOPIC_PREFIX}{resource_name(watcher_name)}.{event}"


def encode_event(topic: str, payload: Mapping[str, Any]) -> list[bytes]:
    return [topic.encode("utf-8"), json.dumps(dict(payload)).encode("utf-8")]


def decode_event(frames: list[bytes]) -> tuple[str, Any]:
    """``(topic, payload)``; a body that is not JSON (or nests deeper than
    :data:`boundedjson.MAX_REPLY_DEPTH`) is returned as text, so no event can crash a subscriber."""
    topic = frames[0].decode("utf-8", "replace") if frames else ""
    body = frames[1] if len(frames) > 1 else b""
    try:
        return topic, boundedjson.loads(body, boundedjson.MAX_REPLY_DEPTH)
    except ValueError:
        return topic, body.decode("utf-8", "replace")


class Publisher(Protocol):
    """What the arbiter needs of its event publisher: :class:`EventPublisher`, or a recorder
    in tests (``circus.testing.RecordingPublisher``)."""

    def publish(self, topic: str, payload: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


class EventPublisher:
    """The PUB socket of circusd. ``publish()`` is synchronous and never blocks."""

    def __init__(
        self, endpoint: str, settings: Any = None, *, context: zmq.asyncio.Context | None = None
    ):
        self.endpoint = endpoint
        self._context = context or zmq.asyncio.Context.instance()
        curve = security.CurveServer.from_settings(settings)
        self._zap = curve is not None  # holds the context's ZAP handler until close()
        if curve is not None:
            security.ensure_authenticator(self._context, curve)
        self._ipc_file: security.IpcSocketFile | None = None
        try:
            sock = self._context.socket(zmq.PUB)
        except BaseException:
            self._release_zap()
            raise
        try:
            sock.linger = 0
            security.secure_server_socket(sock, endpoint, curve)
            ipc_path = security.prepare_ipc_path(endpoint)
            sock.bind(endpoint)
            if ipc_path:
                # 0600, owned by endpoint_owner when set (like the control socket)
                owner = getattr(settings, "endpoint_owner", None)
                self._ipc_file = security.restrict_ipc_socket(ipc_path, owner)
        except BaseException:
            sock.close(linger=0)
            self._release_zap()
            raise
        self._socket: zmq.asyncio.Socket | None = sock

    def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        """Send one event; ``topic`` is the full topic (``watcher.web.spawn``)."""
        if self._socket is None:
            return
        try:
            result = self._socket.send_multipart(encode_event(topic, payload), flags=zmq.NOBLOCK)
        except (zmq.ZMQError, TypeError, ValueError) as exc:
            log.warning("event %s not published: %s", topic, exc)
            return
        if (
            isinstance(result, asyncio.Future)
            and result.done()
            and not result.cancelled()
            and result.exception() is not None
        ):
            log.debug("event %s dropped: %s", topic, result.exception())

    def publish_event(
        self, watcher_name: str, event: str, payload: Mapping[str, Any] | None = None
    ) -> None:
        """Publish ``event`` of a watcher; ``time`` is added when the payload has none."""
        body = dict(payload or {})
        body.setdefault("time", time.time())
        self.publish(event_topic(watcher_name, event), body)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        if self._ipc_file is not None:
            self._ipc_file.remove()
            self._ipc_file = None
        self._release_zap()

    def _release_zap(self) -> None:
        if self._zap:
            self._zap = False
            security.release_authenticator(self._context)


# The socket class of a context: zmq.Socket (blocking) or zmq.asyncio.Socket.
_SocketT = TypeVar("_SocketT", bound=zmq.Socket[Any])


def subscriber_socket(
    context: zmq.Context[_SocketT],
    endpoint: str,
    topics: Iterable[str],
    curve_secret_key: str | None,
    curve_server_key: str | None,
) -> _SocketT:
    """A SUB socket of ``context`` (blocking or asyncio, as the context is), connected and
    subscribed to ``topics`` (every topic if empty)."""
    sock = context.socket(zmq.SUB)
    sock.linger = 0
    security.secure_client_socket(sock, curve_secret_key, curve_server_key)
    for topic in list(topics) or [""]:
        sock.setsockopt(zmq.SUBSCRIBE, topic.encode("utf-8"))
    sock.connect(endpoint)
    return sock


class EventSubscriber(tunnel.TunnelUser):
    """Blocking subscriber: ``for topic, payload in EventSubscriber(endpoint): ...``.

    ``timeout`` (seconds) bounds each wait: iteration ends when no event came in time
    (``None``: wait forever). :meth:`next_event` returns ``None`` on timeout.
    """

    def __init__(
        self,
        endpoint: str,
        topics: Iterable[str] = ("",),
        *,
        timeout: float | None = None,
        context: zmq.Context | None = None,
        curve_secret_key: str | None = None,
        curve_server_key: str | None = None,
        ssh_server: str | None = None,
        ssh_keyfile: str | None = None,
    ):
        self.endpoint = endpoint
        self.timeout = timeout
        _, address, self.tunnel = tunnel.through(
            endpoint, lambda: endpoint, ssh_server, ssh_keyfile
        )
        self._own_context = context is None
        self._context = context or zmq.Context()
        try:
            self._socket = subscriber_socket(
                self._context, address, topics, curve_secret_key, curve_server_key
            )
        except BaseException:
            self._release_tunnel()
            raise
        self._poller = zmq.Poller()
        self._poller.register(self._socket, zmq.POLLIN)
        #: a Ctrl-C ends a wait at once, however it was delivered (circus.util.signal_wakeup)
        self._wakeup = SignalWakeup.install()
        if self._wakeup is not None:
            self._poller.register(self._wakeup, zmq.POLLIN)

    def next_event(self, timeout: float | None = None) -> tuple[str, Any] | None:
        wait = self.timeout if timeout is None else timeout
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = dict(self._poller.poll(None if remaining is None else int(remaining * 1000)))
            if self._socket in ready:
                return decode_event(self._socket.recv_multipart())
            if not ready:
                return None
            if self._wakeup is not None:  # a signal: its handler runs now (KeyboardInterrupt...)
                self._wakeup.drain()

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        while True:
            event = self.next_event()
            if event is None:
                return
            yield event

    def close(self) -> None:
        if self._wakeup is not None:
            self._wakeup.close()
            self._wakeup = None
        self._socket.close(linger=0)
        if self._own_context:
            self._context.term()
        self._release_tunnel()

    def __enter__(self) -> EventSubscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: At most this many queued messages are taken before awaiting again, so that a flood of
#: messages cannot hold the event loop.
DRAIN_BATCH = 100


class AsyncEventSubscriber(tunnel.TunnelUser):
    """asyncio subscriber: ``async for topic, payload in AsyncEventSubscriber(endpoint)``."""

    def __init__(
        self,
        endpoint: str,
        topics: Iterable[str] = ("",),
        *,
        context: zmq.asyncio.Context | None = None,
        curve_secret_key: str | None = None,
        curve_server_key: str | None = None,
        ssh_server: str | None = None,
        ssh_keyfile: str | None = None,
    ):
        self.endpoint = endpoint
        _, address, self.tunnel = tunnel.through(
            endpoint, lambda: endpoint, ssh_server, ssh_keyfile
        )
        self._context = context or zmq.asyncio.Context.instance()
        try:
            self._socket = subscriber_socket(
                self._context, address, topics, curve_secret_key, curve_server_key
            )
        except BaseException:
            self._release_tunnel()
            raise

    async def next_event(self, timeout: float | None = None) -> tuple[str, Any] | None:
        """The next event, or ``None`` after ``timeout`` seconds."""
        try:
            # asyncio.timeout, not wait_for: in Python 3.11, wait_for cancelled as the event
            # comes returns it and drops the cancellation
            async with asyncio.timeout(timeout):
                frames = await self._socket.recv_multipart()
        except TimeoutError:
            return None
        return decode_event(frames)

    async def __aiter__(self) -> AsyncIterator[tuple[str, Any]]:
        # After each awaited message, take what is already queued through a plain shadow of
        # the same socket: a busy feed (circusd-stats: a message per process per second) then
        # costs a non-blocking recv per message instead of an asyncio future and a poller
        # registration each (measured: circushttpd on 1000 processes' stats, 5.4% -> 1.9%).
        queued: zmq.Socket[bytes] = zmq.Socket.shadow(self._socket.underlying)
        while True:
            yield decode_event(await self._socket.recv_multipart())
            for _ in range(DRAIN_BATCH):
                try:
                    frames = queued.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                yield decode_event(frames)

    def monitor(self, events: int) -> zmq.asyncio.Socket:
        """A PAIR socket that receives ZeroMQ's monitor messages of this subscriber's socket
        (``events``: a mask of ``zmq.EVENT_*``; the first frame starts with the event number,
        a native 16-bit integer). The caller closes it; :meth:`close` stops the monitor."""
        socket: zmq.asyncio.Socket = self._socket.get_monitor_socket(events)
        socket.linger = 0
        return socket

    def close(self) -> None:
        with contextlib.suppress(zmq.ZMQError):  # none was asked for
            self._socket.disable_monitor()
        self._socket.close(linger=0)
        self._release_tunnel()

    async def __aenter__(self) -> AsyncEventSubscriber:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
