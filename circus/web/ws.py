"""``/ws``: the WebSocket that pushes circusd's events, its connected state, the stats stream
and a watcher's output to a logged-in browser (messages in docs/dev/web-api.md).

The upgrade is refused unless the ``Origin`` is this server's own (or listed with
``--allow-origin``) and the request carries a live session. A slow browser does not slow the
others: each socket has a bounded queue of pending frames and is closed when it overflows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from typing import Any

import tornado.websocket

from circus.web.base import SECURITY_HEADERS, SESSION_COOKIE

log = logging.getLogger(__name__)

#: Largest message a browser may send (they are small JSON objects).
MAX_INCOMING = 4096
#: Frames written but not yet flushed to a browser before it counts as stuck and is closed.
MAX_PENDING = 1000
#: With ``stats_batch``, a socket's stats points go out together at most this often (s), and
#: at once when this many are waiting: a frame per point costs the server more than the point.
STATS_FLUSH = 0.5
MAX_BATCH = 2000


class EventSocket(tornado.websocket.WebSocketHandler):
    """One browser's live feed."""

    def initialize(self) -> None:
        self.stats = False
        self.stats_watcher: str | None = None  # narrows the stats feed (see _wants_stats)
        self.stats_batch = False
        self._batch: list[dict[str, Any]] = []
        self._flush: asyncio.TimerHandle | None = None
        self.output: str | None = None
        self.pending = 0
        self.session: Any = None

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
        if self._flush is not None:
            self._flush.cancel()
        self.web.link.remove_listener(self.on_feed)
        self.web.sockets.discard(self)
        self.web.tails.unsubscribe(self)

    def on_feed(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "stats":
            if not self._wants_stats(message):
                return
            if self.stats_batch:
                self._add_to_batch(message)
                return
        self.send(message)

    def _add_to_batch(self, point: dict[str, Any]) -> None:
        self._batch.append({k: v for k, v in point.items() if k != "type"})
        if len(self._batch) >= MAX_BATCH:
            self._send_batch()
        elif self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(STATS_FLUSH, self._send_batch)

    def _send_batch(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        points, self._batch = self._batch, []
        if points:
            self.send({"type": "stats_batch", "points": points})

    def send(self, message: dict[str, Any]) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        if self.pending >= MAX_PENDING:
            log.warning(
                "closing a websocket that does not keep up (%d frames pending)", self.pending
            )
            self.close(1008, "too slow")
            return
        self.pending += 1
        try:
            future = self.write_message(json.dumps(message))
        except tornado.websocket.WebSocketClosedError:
            self.pending -= 1
            return
        future.add_done_callback(self._written)

    def _written(self, future: Any) -> None:
        self.pending -= 1
        if not future.cancelled():
            future.exception()  # a closed socket: on_close cleans up

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
        if "stats_batch" in message:
            self.stats_batch = bool(message["stats_batch"])
            if not self.stats_batch:
                self._send_batch()
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
