"""The stats endpoint: a ZeroMQ XPUB socket that also knows what its subscribers want.

Wire format (the original's): two frames, the topic (``stat.web.1234``, ``stat.web``,
``stat.circus.42``, ``stat.sockets.5``) and a JSON object. Subscribers are plain SUB sockets
(the original ``StatsClient`` and circus-top included): XPUB is PUB for them.

Why XPUB: circusd-stats only samples what somebody listens to. XPUB reports every topic prefix
that gained its first subscriber or lost its last one, so :meth:`wants` can tell, before any
/proc read, whether anyone subscribed to a watcher's stats; with no subscriber at all,
circusd-stats does nothing each second but look at an empty set.

The socket is a plain (blocking-API) ZeroMQ socket: sends use ``NOBLOCK`` (a subscriber that
does not keep up loses messages at the high-water mark, which is right for a monitoring feed),
and the subscription messages are drained when its FD wakes the asyncio loop and after each
burst of sends (ZeroMQ's FD is edge-triggered: sends can consume the edge).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import zmq

from circus.wire import security

log = logging.getLogger(__name__)

TOPIC_PREFIX = "stat."
# Plain ints: enum flags cost an enum operation per send, and there are thousands a second.
_MORE = int(zmq.SNDMORE | zmq.NOBLOCK)
_LAST = int(zmq.NOBLOCK)


class StatsPublisher:
    """Bound XPUB socket on ``endpoint`` (ipc sockets are made 0600 as circusd's)."""

    def __init__(self, endpoint: str, context: zmq.Context | None = None) -> None:
        self.endpoint = endpoint
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.XPUB)
        self._ipc_file: security.IpcSocketFile | None = None
        self._subscriptions: set[bytes] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        try:
            self._socket.linger = 0
            security.secure_server_socket(self._socket, endpoint, None)
            ipc_path = security.prepare_ipc_path(endpoint)
            self._socket.bind(endpoint)
            if ipc_path:
                self._ipc_file = security.restrict_ipc_socket(ipc_path, None)
        except BaseException:
            self._socket.close(linger=0)
            raise

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Follow subscriptions as they come (drains on every wake-up of the socket's FD)."""
        self._loop = loop
        loop.add_reader(self._socket.FD, self.drain_subscriptions)
        self.drain_subscriptions()

    def drain_subscriptions(self) -> None:
        """Read every pending (un)subscription message."""
        sock = self._socket
        while sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            try:
                frame = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if not frame:
                continue
            topic = frame[1:]
            if frame[0] == 1:
                self._subscriptions.add(topic)
            elif frame[0] == 0:
                self._subscriptions.discard(topic)

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscriptions)

    def wants(self, name: str) -> bool:
        """True if a subscription matches ``stat.<name>`` or one of its sub-topics."""
        topic = f"{TOPIC_PREFIX}{name}".encode()
        return any(topic.startswith(p) or p.startswith(topic) for p in self._subscriptions)

    def publish(self, name: str, stat: dict[str, Any], subtopic: Any = None) -> None:
        """Send ``stat`` on ``stat.<name>`` (``stat.<name>.<subtopic>`` with a subtopic)."""
        topic = f"{TOPIC_PREFIX}{name}" if subtopic is None else f"{TOPIC_PREFIX}{name}.{subtopic}"
        self.send(topic.encode(), json.dumps(stat).encode())

    def send_many(self, messages: list[tuple[bytes, bytes]]) -> None:
        """Send messages back to back: ZeroMQ's I/O thread then wakes once for many of them
        instead of once per message (a third of the cost of a sample)."""
        send = self._socket.send
        try:
            for topic, body in messages:
                send(topic, _MORE)
                send(body, _LAST)
        except zmq.ZMQError as exc:
            log.warning("stats not published: %s", exc)

    def send(self, topic: bytes, body: bytes) -> None:
        """Send one message (two frames). XPUB never blocks: a subscriber that does not keep up
        misses messages at its high-water mark."""
        try:
            self._socket.send(topic, _MORE)
            self._socket.send(body, _LAST)
        except zmq.ZMQError as exc:
            log.warning("stat %s not published: %s", topic.decode(errors="replace"), exc)

    def close(self) -> None:
        if self._loop is not None and not self._socket.closed:
            self._loop.remove_reader(self._socket.FD)
            self._loop = None
        self._socket.close(linger=0)
        if self._ipc_file is not None:
            self._ipc_file.remove()
            self._ipc_file = None
