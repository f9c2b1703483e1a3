"""Live output of watchers for the browsers that tail them.

circusd keeps the last output of each watcher (the ``tail`` command: chunks with increasing
``seq``). While at least one browser tails a watcher, one task per watcher asks circusd for the
chunks after the last one seen, every :data:`INTERVAL` seconds, and pushes them as ``output``
messages; with no browser tailing it, nothing is asked. A browser that starts tailing first gets
the backlog (what circusd still has), then the live chunks; it ignores a ``seq`` it has shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from circus.web.circusd import CircusdLink, Disconnected, Refused

log = logging.getLogger(__name__)

#: Seconds between two polls of a tailed watcher's output.
INTERVAL = 0.5
#: Seconds to wait after circusd refused (unknown watcher, a circusd without ``tail``).
REFUSED_DELAY = 5.0


class Subscriber(Protocol):
    def send(self, message: dict[str, Any]) -> None: ...


def output_messages(watcher: str, reply: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "type": "output",
            "watcher": watcher,
            "seq": chunk.get("seq"),
            "pid": chunk.get("pid"),
            "stream": chunk.get("stream"),
            "time": chunk.get("time"),
            "data": chunk.get("data"),
        }
        for chunk in reply.get("chunks", [])
        if isinstance(chunk, dict)
    ]


class TailManager:
    """Which browser tails which watcher, and the poll task of each tailed watcher."""

    def __init__(self, link: CircusdLink, interval: float = INTERVAL):
        self.link = link
        self.interval = interval
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._backlogs: set[asyncio.Future] = set()

    def subscribe(self, subscriber: Subscriber, watcher: str | None) -> None:
        self.unsubscribe(subscriber)
        if watcher is None:
            return
        self._subscribers.setdefault(watcher, set()).add(subscriber)
        backlog = asyncio.ensure_future(self._backlog(subscriber, watcher))
        self._backlogs.add(backlog)
        backlog.add_done_callback(self._backlogs.discard)
        if watcher not in self._tasks:
            self._tasks[watcher] = asyncio.ensure_future(self._poll(watcher))

    def unsubscribe(self, subscriber: Subscriber) -> None:
        for watcher in [w for w, subs in self._subscribers.items() if subscriber in subs]:
            subs = self._subscribers[watcher]
            subs.discard(subscriber)
            if not subs:
                del self._subscribers[watcher]
                task = self._tasks.pop(watcher, None)
                if task is not None:
                    task.cancel()

    async def close(self) -> None:
        tasks = [*self._tasks.values(), *self._backlogs]
        self._tasks.clear()
        self._subscribers.clear()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _backlog(self, subscriber: Subscriber, watcher: str) -> None:
        try:
            reply = await self.link.call("tail", name=watcher)
        except (Disconnected, Refused) as exc:
            subscriber.send({"type": "error", "message": f"output of {watcher}: {exc}"})
            return
        for message in output_messages(watcher, reply):
            subscriber.send(message)

    async def _poll(self, watcher: str) -> None:
        cursor: int | None = None
        while self._subscribers.get(watcher):
            try:
                since = {} if cursor is None else {"since": cursor}
                reply = await self.link.call("tail", name=watcher, **since)
            except Disconnected:
                await asyncio.sleep(1.0)
                continue
            except Refused:
                await asyncio.sleep(REFUSED_DELAY)
                continue
            if cursor is not None:
                for message in output_messages(watcher, reply):
                    for subscriber in list(self._subscribers.get(watcher, ())):
                        subscriber.send(message)
            if isinstance(reply.get("next"), int):
                cursor = reply["next"]
            await asyncio.sleep(self.interval)
