"""A short-lived cache of each watcher's pids and target count for ``/api/watchers``, used
with a circusd whose ``status`` does not give them (circusd gives them all in one call:
``status`` with ``processes``).

Listing 100 watchers asks such a circusd ``list`` and ``get numprocesses`` for each: 200
calls, most of a page load. Their answers change only when something happens to the
watcher, and circusd publishes an event then (``spawn``, ``reap``, ``kill``, ``start``,
``stop``, ``updated``...): an event for a watcher drops its entry, a reconnection to circusd
drops them all, and an entry is never used after :data:`MAX_AGE` seconds (events may be
lost: ZeroMQ drops them for a slow subscriber, and none comes while the subscription is being made).
"""

from __future__ import annotations

import time
from typing import Any

#: Seconds an entry may be used without an event (a bound on staleness).
MAX_AGE = 5.0


def event_key(name: str) -> str:
    """A watcher's name as events spell it (lower case, spaces as ``_``)."""
    return name.lower().replace(" ", "_")


class WatcherCache:
    """``{event_key: (time, value)}``; see the module docstring."""

    def __init__(self, max_age: float = MAX_AGE):
        self.max_age = max_age
        self._entries: dict[str, tuple[float, Any]] = {}
        self._invalidated: dict[str, float] = {}  # event_key -> when its last event came

    def get(self, name: str) -> Any | None:
        entry = self._entries.get(event_key(name))
        if entry is None or time.monotonic() - entry[0] > self.max_age:
            return None
        return entry[1]

    def put(self, name: str, value: Any, fetched_at: float) -> None:
        """Store ``value`` fetched at ``fetched_at`` (monotonic): an event that came while it
        was being fetched has dropped the entry, so the fetch is only kept if none came."""
        key = event_key(name)
        if self._invalidated.get(key, 0.0) <= fetched_at:
            self._entries[key] = (fetched_at, value)

    def invalidate(self, watcher_key: str) -> None:
        self._entries.pop(watcher_key, None)
        self._invalidated[watcher_key] = time.monotonic()
        if len(self._invalidated) > 10000:  # bound it: forgetting all is safe, just slower
            self.clear()

    def clear(self) -> None:
        self._entries.clear()
        self._invalidated.clear()
