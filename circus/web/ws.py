"""``/ws``: the WebSocket that pushes circusd's events, its connected state, the stats stream
and a watcher's output to a logged-in browser (messages in docs/dev/web-api.md).

The upgrade is refused unless the ``Origin`` is this server's own (or listed with
``--allow-origin``) and the request carries a live session.

Messages are queued per socket and written together: what arrives within
:data:`FLUSH_DELAY` (or while the previous frame is still being written) goes out as one
``{"type": "batch", "messages": [...]}`` frame (a single message goes as itself). A second of
stats of 1,000 processes is then a few frames instead of 1,100, and each message is encoded
to JSON once for every browser. A browser that does not keep up does not slow the others: its
queue is bounded (:data:`MAX_QUEUED`) and the socket is closed when it overflows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

import tornado.websocket

from circus.web.base import SECURITY_HEADERS, SESSION_COOKIE

log = logging.getLogger(__name__)

#: Largest message a browser may send (they are small JSON objects).
MAX_INCOMING = 4096
#: Seconds messages wait to be sent together (events are delayed this much at most).
FLUSH_DELAY = 0.05
#: Messages queued for a browser (while its previous frame is being written) before it counts
#: as stuck and is closed: a few seconds of stats of 1,000 processes.
MAX_QUEUED = 20000
BATCH_HEAD = '{"type": "batch", "messages": ['


class EventSocket(tornado.websocket.WebSocketHandler):
    """One browser's live feed."""

    def initialize(self) -> None:
        self.stats = False
        self.stats_watcher: str | None = None  # narrows the stats feed (see _wants_stats)
        self.output: str | None = None
        self.session: Any = None
        self._queue: list[str] = []
        self._flush_timer: asyncio.TimerHandle | None = None
        self._writing = False

    @property
    def web(self) -> Any:
        return self.settings["web"]

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    def check_origin(self, origin: str) -> bool:
        if origin in self.web.allowed_origins:
            return True
        parsed = urllib.parse.urlparse(origin)
        return parsed.scheme in ("http", "https") and parsed.netloc == self.request.host

    async def get(self, *args: Any, **kwargs: Any) -> None:
        sid = self.get_cookie(SESSION_COOKIE)
        self.session = self.web.sessions.get(sid) if sid else None
        if self.session is None:
            self.set_status(401)
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(
                json.dumps({"error": {"code": "login_required", "message": "log in first"}})
            )
            return
        await super().get(*args, **kwargs)

    def open(self, *args: str, **kwargs: str) -> None:
        self.web.sockets.add(self)
        self.web.link.add_listener(self.on_feed)
        link = self.web.link
        self.send(
            {
                "type": "hello",
                "connected": link.connected,
                "endpoint": link.endpoint,
                "user": self.session.user,
                "error": None if link.connected else link.error,
            }
        )

    def on_close(self) -> None:
        self.web.link.remove_listener(self.on_feed)
        self.web.sockets.discard(self)
        self.web.tails.unsubscribe(self)
        if self._flush_timer is not None:
            self._flush_timer.cancel()
        self._queue.clear()

    def on_feed(self, message: dict[str, Any], text: Callable[[], str]) -> None:
        if message.get("type") == "stats" and not self._wants_stats(message):
            return
        self.enqueue(text())

    def send(self, message: dict[str, Any]) -> None:
        self.enqueue(json.dumps(message))

    def enqueue(self, text: str) -> None:
        """Queue one encoded message; it is written within :data:`FLUSH_DELAY`."""
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        if len(self._queue) >= MAX_QUEUED:
            log.warning("closing a websocket that does not keep up (%d queued)", len(self._queue))
            self._queue.clear()
            self.close(1008, "too slow")
            return
        self._queue.append(text)
        if self._flush_timer is None and not self._writing:
            loop = asyncio.get_running_loop()
            self._flush_timer = loop.call_later(FLUSH_DELAY, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        if not self._queue or self._writing:
            return
        texts, self._queue = self._queue, []
        frame = texts[0] if len(texts) == 1 else BATCH_HEAD + ",".join(texts) + "]}"
        try:
            future = self.write_message(frame)
        except tornado.websocket.WebSocketClosedError:
            return
        self._writing = True
        future.add_done_callback(self._written)

    def _written(self, future: Any) -> None:
        self._writing = False
        if future.cancelled() or future.exception() is not None:
            return  # closed: on_close cleans up
        if self._queue and self._flush_timer is None:
            self._flush()

    def on_message(self, data: str | bytes) -> None:
        if len(data) > MAX_INCOMING:
            self.send({"type": "error", "message": f"message over {MAX_INCOMING} bytes ignored"})
            return
        try:
            message = json.loads(data)
            if not isinstance(message, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            self.send({"type": "error", "message": f"not a JSON object: {exc}"})
            return
        kind = message.get("type")
        if kind == "ping":
            self.send({"type": "pong"})
        elif kind == "subscribe":
            self._subscribe(message)
        else:
            self.send({"type": "error", "message": f"unknown message type {str(kind)[:40]!r}"})

    def _subscribe(self, message: dict[str, Any]) -> None:
        if "stats" in message:
            self.stats = bool(message["stats"])
        if "stats_watcher" in message:
            scope = message["stats_watcher"]
            if scope is not None and (not isinstance(scope, str) or len(scope) > 128):
                problem = "stats_watcher: expected a watcher name, * or null"
                self.send({"type": "error", "message": problem})
                return
            self.stats_watcher = scope
        if "output" in message:
            watcher = message["output"]
            if watcher is not None and (not isinstance(watcher, str) or len(watcher) > 128):
                self.send({"type": "error", "message": "output: expected a watcher name or null"})
                return
            self.output = watcher
            self.web.tails.subscribe(self, watcher)

    def _wants_stats(self, point: dict[str, Any]) -> bool:
        """Whether this browser asked for this stats point: none without ``stats``; with
        ``stats_watcher`` ``*`` only the watchers' sums (the home page), with a name only that
        watcher's points (its page), else all. A large circusd sends a point per process per
        second: a browser that needs a few must not be sent (and cost) them all."""
        if not self.stats:
            return False
        scope = self.stats_watcher
        if scope is None:
            return True
        if scope == "*":
            return point.get("pid") is None
        return point.get("watcher") == scope

    def end(self) -> None:
        """The session ended (logout): close."""
        self.close(4001, "logged out")
