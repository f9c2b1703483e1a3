"""circushttpd's list of discovered circusds (``--discover``), for the connect page.

A background task probes every :data:`INTERVAL` seconds (:func:`circus.client.discover`, the
original's datagrams) and keeps what answered, each with when it was first and last seen; an
entry unseen for :data:`FORGET_AFTER` rounds is dropped, and the list holds at most
:data:`MAX_ENTRIES` (a flood of forged answers cannot grow it). A user may ask for a probe now
(``POST /api/discovery``); probes never overlap and run at most every :data:`MIN_GAP` seconds.

The console stays on the circusd given on the command line: the list says which circusds
answered, it does not switch the console to them (an announcement is not authenticated; see
docs/web.md, "Which circusd").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from circus.client import Announcement, discover

log = logging.getLogger(__name__)

INTERVAL = 30.0  # seconds between background probes
WAIT = 1.0  # seconds a probe listens for answers
MIN_GAP = 5.0  # seconds between two probes, whoever asks
FORGET_AFTER = 3  # rounds an entry may go unseen before it is dropped
MAX_ENTRIES = 64


class DiscoveredList:
    """The circusds that answered circushttpd's probes (see the module docstring)."""

    def __init__(self, multicast: str, interfaces: Sequence[str] | None, *, wait: float = WAIT):
        self.multicast = multicast
        self.interfaces = list(interfaces) if interfaces else None
        self.wait = wait
        self.entries: dict[tuple[str, str], dict[str, Any]] = {}
        self.probed_at: float | None = None
        self.error: str | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="circushttpd-discovery")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.probe()
            await asyncio.sleep(INTERVAL)

    async def probe(self) -> None:
        """Probe now, unless a probe ran less than :data:`MIN_GAP` seconds ago (or runs)."""
        async with self._lock:
            if self.probed_at is not None and time.time() - self.probed_at < MIN_GAP:
                return
            try:
                found = await discover(self.multicast, self.wait, self.interfaces)
            except (OSError, ValueError) as exc:
                self.error = str(exc)
                log.warning("discovery failed: %s", exc)
                found = []
            else:
                self.error = None
            self.probed_at = time.time()
            self._merge(found, self.probed_at)

    def _merge(self, found: list[Announcement], now: float) -> None:
        for answer in found:
            key = (answer.endpoint, answer.sender)
            entry = self.entries.get(key)
            if entry is None:
                if len(self.entries) >= MAX_ENTRIES:
                    continue
                entry = self.entries[key] = {"first_seen": now}
            entry.update(
                endpoint=answer.endpoint,
                sender=answer.sender,
                curve=answer.curve,
                curve_public_key=answer.curve_public_key,
                last_seen=now,
            )
        horizon = now - FORGET_AFTER * INTERVAL - self.wait
        for key in [k for k, e in self.entries.items() if e["last_seen"] < horizon]:
            del self.entries[key]

    def snapshot(self) -> dict[str, Any]:
        return {
            "multicast": self.multicast,
            "interfaces": self.interfaces,
            "probed_at": self.probed_at,
            "error": self.error,
            "circusds": sorted(self.entries.values(), key=lambda e: (e["endpoint"], e["sender"])),
        }
