"""Output of :class:`~circus.hosts.local.LocalHost` children that a failing stream refused.

The same rules as papa-kernel's ``hold`` (docs/kernel-protocol.md), in circusd's memory (these
children die with circusd anyway): per (process, stream), the refused chunks and the ones read
after them are kept, at most ``bound`` bytes (the stream's ``bufsize``): beyond it the oldest
chunks are dropped and counted, and the child keeps running (it never blocks on a destination
that fails). They are delivered again, drop report first, when the hold is released, or at once
when the process's exit is queued (the exit still comes after its output).
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

from circus.hosts.base import DroppedOutput, HostEvent, OutputChunk

Key = tuple[str, str]  # (process name, "stdout" | "stderr")


@dataclass
class _Held:
    bound: int
    chunks: collections.deque[OutputChunk] = field(default_factory=collections.deque)
    nbytes: int = 0
    dropped: int = 0
    drop_time: float = 0.0


class HeldOutput:
    """The held streams of one host."""

    def __init__(self) -> None:
        self._held: dict[Key, _Held] = {}

    def __bool__(self) -> bool:
        return bool(self._held)

    def __contains__(self, key: Key) -> bool:
        return key in self._held

    def hold(self, key: Key, bound: int, events: list[HostEvent]) -> None:
        """Keep ``events`` (chunks and drop reports of ``key``, oldest first) until released."""
        held = self._held.setdefault(key, _Held(max(bound, 1)))
        for event in events:
            if isinstance(event, DroppedOutput):
                held.dropped += event.nbytes
                held.drop_time = held.drop_time or event.timestamp
            elif isinstance(event, OutputChunk):
                held.chunks.append(event)
                held.nbytes += len(event.data)
        while held.nbytes > held.bound and len(held.chunks) > 1:  # the newest always stays
            old = held.chunks.popleft()
            held.nbytes -= len(old.data)
            held.dropped += len(old.data)
            held.drop_time = old.timestamp

    def release(self, key: Key) -> list[HostEvent]:
        """End the hold of ``key``: its events to deliver (a drop report first), or []."""
        held = self._held.pop(key, None)
        if held is None:
            return []
        events: list[HostEvent] = []
        if held.dropped:
            stamp = held.drop_time or time.time()
            events.append(DroppedOutput(key[0], key[1], stamp, held.dropped))
        events.extend(held.chunks)
        return events

    def release_process(self, name: str) -> list[HostEvent]:
        """End every hold of process ``name`` (it exited)."""
        keys = [key for key in self._held if key[0] == name]
        return [event for key in keys for event in self.release(key)]

    def forget(self, name: str) -> None:
        """Discard what process ``name`` left held."""
        for key in [key for key in self._held if key[0] == name]:
            del self._held[key]

    def clear(self) -> None:
        self._held.clear()
