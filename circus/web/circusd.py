"""circushttpd's link to circusd: control calls, the connected/disconnected state, and the
pub/sub and stats feeds relayed to the browsers.

One :class:`CircusdLink` per server. It owns an :class:`~circus.client.AsyncCircusClient`, a
subscriber on circusd's events and one on circusd-stats' stream (endpoints asked from circusd
with ``globaloptions``). Whether circusd is there is learnt from the calls themselves: any call
that fails (no socket, timeout) marks the link disconnected; and from the event subscriber's
connection (a ZeroMQ socket monitor): circusd closing it (it stopped or died) marks the link
disconnected at once, its coming back wakes the heartbeat. The heartbeat (``status``) runs
every second while disconnected; while connected only as a slow safety net
(:data:`HEARTBEAT_CONNECTED`: a circusd that hangs, or one behind an ssh tunnel, which keeps
the subscriber connected), or every :data:`HEARTBEAT_UNWATCHED` seconds without an event
feed. Listeners get ``{"type": "circusd", "connected": ...}`` on each change, the events and
the stats messages as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import time
from collections.abc import Callable
from typing import Any

import zmq

from circus.client import AsyncCircusClient
from circus.errors import CallError
from circus.events import AsyncEventSubscriber
from circus.web.history import StatsHistory
from circus.web.watchers import WatcherCache

log = logging.getLogger(__name__)

#: ``listener(message, text)``: the message and its JSON text (encoded once for every listener)
#: A feed listener: ``listener(message, encoded)``; ``encoded()`` is the message as JSON text,
#: encoded at most once and only if a listener asks (most stats points go to no browser).
Listener = Callable[[dict[str, Any], Callable[[], str]], None]

#: Seconds between heartbeats while circusd answers (its event feed says when it goes away),
#: while it answers but no event feed is watched, and while it does not answer.
HEARTBEAT_CONNECTED = 30.0
HEARTBEAT_UNWATCHED = 3.0
HEARTBEAT_DISCONNECTED = 1.0
#: The event subscriber's connection events that say circusd went away or came back.
_FEED_DOWN, _FEED_UP = zmq.EVENT_DISCONNECTED, zmq.EVENT_HANDSHAKE_SUCCEEDED
#: Timeout of one heartbeat call (a hung circusd counts as gone after this).
HEARTBEAT_TIMEOUT = 2.0
#: circusd-stats counts as connected while a message came within this many seconds.
STATS_FRESH = 10.0


class Disconnected(Exception):
    """circusd cannot be reached; ``str()`` says why."""


class Refused(Exception):
    """circusd answered with an error; ``str()`` is its reason."""

    def __init__(self, reason: str, errno: int | None = None):
        super().__init__(reason)
        self.errno = errno


class CircusdLink:
    """The connection to one circusd (see the module docstring)."""

    def __init__(
        self,
        endpoint: str | None,
        *,
        timeout: float = 5.0,
        curve_secret_key: str | None = None,
        curve_server_key: str | None = None,
        ssh_server: str | None = None,
        ssh_keyfile: str | None = None,
        history: StatsHistory | None = None,
    ):
        self.endpoint = endpoint
        self.timeout = timeout
        #: how every socket of the link connects: CURVE keys, ssh tunnel (one, shared)
        self._options: dict[str, Any] = {
            "curve_secret_key": curve_secret_key,
            "curve_server_key": curve_server_key,
            "ssh_server": ssh_server,
            "ssh_keyfile": ssh_keyfile,
        }
        self.client = self._new_client()
        self.endpoint = self.client.endpoint  # through ssh, None is circusd's default there
        self.connected = False
        self.error: str | None = "not connected yet"
        self.since = time.time()
        self.history = history or StatsHistory()
        self.watchers = WatcherCache()
        self.stats_endpoint: str | None = None
        self.last_stats: float | None = None
        self._listeners: set[Listener] = set()
        self._tasks: dict[str, asyncio.Task] = {}
        self._subscribers: dict[str, tuple[str, AsyncEventSubscriber]] = {}
        self._woken = asyncio.Event()

    # --- listeners ---------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.add(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    def broadcast(self, message: dict[str, Any]) -> None:
        if not self._listeners:
            return
        encoded: list[str] = []

        def text() -> str:
            if not encoded:
                encoded.append(json.dumps(message))
            return encoded[0]

        for listener in list(self._listeners):
            try:
                listener(message, text)
            except Exception:  # one broken listener must not stop the feed
                log.exception("web listener failed")

    # --- calls -------------------------------------------------------------------------------

    async def call(self, command: str, timeout: float | None = None, **props: Any) -> dict:
        """Send a command; its reply. Raises :class:`Disconnected` or :class:`Refused`."""
        message = {"command": command, "properties": props}
        client = self.client
        try:
            if client.tunnel is not None and not client.tunnel.alive():
                self._renew_client()  # the ssh connection ended: log in again
                client = self.client
            reply = await client.call(message, timeout)
        except CallError as exc:
            if client is not self.client:
                # renewed meanwhile (its calls fail then): that says nothing of the link now,
                # circusd may be back on the new client
                raise Disconnected(str(exc)) from None
            self._set_connected(False, str(exc))
            raise Disconnected(self.error or str(exc)) from None
        self._set_connected(True, None)
        if reply.get("status") == "error":
            raise Refused(str(reply.get("reason") or "error"), reply.get("errno"))
        return reply

    def _set_connected(self, connected: bool, error: str | None) -> None:
        if connected == self.connected:
            if error:
                self.error = error
            return
        self.connected = connected
        self.error = error
        self.since = time.time()
        self.watchers.clear()  # events may have been missed meanwhile
        if connected:
            log.info("circusd at %s answers again", self.endpoint)
            self._woken.set()
        else:
            log.warning("circusd at %s is unreachable: %s", self.endpoint, error)
            # A DEALER whose peer vanished may hold stale requests: start afresh.
            with contextlib.suppress(CallError):  # else the next call tries again
                self._renew_client()
        self.broadcast({"type": "circusd", "connected": connected, "error": error})

    def _new_client(self) -> AsyncCircusClient:
        return AsyncCircusClient(endpoint=self.endpoint, timeout=self.timeout, **self._options)

    def _renew_client(self) -> None:
        """A new client (the new one first: it reuses the ssh tunnel while the old one holds
        it). A new ssh login also drops the feeds, re-subscribed through it by the heartbeat."""
        renewed_login = self.client.tunnel is not None and not self.client.tunnel.alive()
        old, self.client = self.client, self._new_client()
        old.stop()
        if renewed_login:
            self._drop_feeds()

    def _drop_feeds(self) -> None:
        for kind in list(self._subscribers):
            self._end_feed(kind)

    def _end_feed(self, kind: str) -> None:
        for task in (self._tasks.pop(kind, None), self._tasks.pop(f"{kind}-watch", None)):
            if task is not None:
                task.cancel()
        self._subscribers.pop(kind)[1].close()

    # --- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the heartbeat (and, once circusd answers, the subscribers)."""
        if "heartbeat" not in self._tasks:
            self._tasks["heartbeat"] = asyncio.create_task(self._heartbeat())

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        # The subscribers (and their monitors) are closed before the tasks end, as _end_feed
        # does: the watch task closes the monitor's reading socket when it ends, and an event
        # that libzmq's I/O thread sends to it after that blocks the thread for good (a PAIR
        # socket without its peer) while it holds the lock that disable_monitor() waits for.
        # circushttpd then hung at its stop (seen once in ~120 starts and stops).
        for _, subscriber in self._subscribers.values():
            subscriber.close()
        self._subscribers.clear()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self.client.stop()

    async def _heartbeat(self) -> None:
        while True:
            try:
                await self.call("status", timeout=HEARTBEAT_TIMEOUT)
                await self._ensure_feeds()
            except (Disconnected, Refused):
                pass
            except Exception:
                log.exception("heartbeat failed")
            self._woken.clear()
            if not self.connected:
                delay = HEARTBEAT_DISCONNECTED
            elif "events-watch" in self._tasks:
                delay = HEARTBEAT_CONNECTED
            else:
                delay = HEARTBEAT_UNWATCHED
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._woken.wait()

    async def _ensure_feeds(self) -> None:
        """Subscribe to circusd's events and circusd-stats' stream (endpoints from circusd)."""
        options = (await self.call("globaloptions", timeout=HEARTBEAT_TIMEOUT))["options"]
        self._subscribe("events", options.get("pubsub_endpoint"), "watcher.", self._on_event)
        self.stats_endpoint = options.get("stats_endpoint")
        self._subscribe("stats", self.stats_endpoint, "stat.", self._on_stats)

    def _subscribe(
        self, kind: str, endpoint: str | None, topic: str, handler: Callable[[str, Any], None]
    ) -> None:
        current = self._subscribers.get(kind)
        if current is not None and current[0] == endpoint and not self._tasks[kind].done():
            return
        if current is not None:
            self._end_feed(kind)
        if not endpoint:
            return
        try:
            subscriber = AsyncEventSubscriber(endpoint, (topic,), **self._options)
        except Exception as exc:  # a bad endpoint of circusd's: log, keep the rest working
            log.warning("cannot subscribe to %s at %s: %s", kind, endpoint, exc)
            return
        self._subscribers[kind] = (endpoint, subscriber)
        self._tasks[kind] = asyncio.create_task(self._relay(subscriber, handler))
        if kind == "events":
            self._tasks["events-watch"] = asyncio.create_task(self._watch(subscriber))

    async def _watch(self, subscriber: AsyncEventSubscriber) -> None:
        """Follow the event subscriber's connection to circusd: closed (circusd stopped or
        died: the link is disconnected at once), made again (the heartbeat asks now)."""
        monitor = subscriber.monitor(_FEED_DOWN | _FEED_UP)
        try:
            while True:
                frames = await monitor.recv_multipart()
                (event,) = struct.unpack("=H", frames[0][:2])
                if event == _FEED_DOWN:
                    self._set_connected(False, "circusd closed its event feed")
                self._woken.set()
        finally:
            monitor.close(linger=0)

    async def _relay(
        self, subscriber: AsyncEventSubscriber, handler: Callable[[str, Any], None]
    ) -> None:
        async for topic, payload in subscriber:
            try:
                handler(topic, payload)
            except Exception:
                log.exception("bad message on %s", topic)

    # --- feeds -------------------------------------------------------------------------------

    def _on_event(self, topic: str, payload: Any) -> None:
        parts = topic.split(".")
        if len(parts) < 3:
            return
        watcher, event = ".".join(parts[1:-1]), parts[-1]
        self.watchers.invalidate(watcher)
        if event == "reap" and isinstance(payload, dict):
            self.history.forget_process(watcher, payload.get("process_pid"))
        elif event == "remove":
            self.history.forget_watcher(watcher)
        self.broadcast(
            {"type": "event", "topic": topic, "watcher": watcher, "event": event, "data": payload}
        )

    def _on_stats(self, topic: str, payload: Any) -> None:
        point = self.history.add_message(topic, payload)
        if point is None:
            return
        self.last_stats = time.time()
        self.broadcast({"type": "stats", **point})

    def stats_connected(self) -> bool:
        return self.last_stats is not None and time.time() - self.last_stats < STATS_FRESH
