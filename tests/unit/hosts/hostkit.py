"""Helpers for the host tests: run a coroutine with a deadline, and collect host events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from circus.hosts.base import DroppedOutput, ExitRecord, HostEvent, OutputChunk

DEADLINE = 30.0  # seconds: no host test coroutine may run longer


def run(coro, timeout: float = DEADLINE):
    """Run ``coro`` on a fresh loop, failing (not hanging) after ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Collector:
    """An ``on_events`` handler that records every batch and lets tests wait for conditions."""

    def __init__(self, delay: float = 0.0):
        self.batches: list[list[HostEvent]] = []
        self.delay = delay  # seconds each call takes (a slow consumer)
        self.running = 0
        self.max_running = 0
        self._changed: asyncio.Event | None = None

    async def __call__(self, batch: Sequence[HostEvent]) -> None:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            self.batches.append(list(batch))
            self._event().set()
        finally:
            self.running -= 1

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    @property
    def events(self) -> list[HostEvent]:
        return [event for batch in self.batches for event in batch]

    async def wait_for(
        self, predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition"
    ):
        """Wait (event-driven) until ``predicate()`` is truthy; AssertionError on timeout."""

        async def wait() -> object:
            while True:
                value = predicate()
                if value:
                    return value
                self._event().clear()
                await self._event().wait()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None

    async def wait_exit(self, name: str, timeout: float = 10.0) -> ExitRecord:
        return await self.wait_for(lambda: self.exit_of(name), timeout, f"exit of {name}")

    def exit_of(self, name: str) -> ExitRecord | None:
        for event in self.events:
            if isinstance(event, ExitRecord) and event.name == name:
                return event
        return None

    def output(self, name: str, stream: str = "stdout") -> bytes:
        return b"".join(
            e.data
            for e in self.events
            if isinstance(e, OutputChunk) and e.name == name and e.stream == stream
        )

    def dropped(self, name: str) -> int:
        return sum(e.nbytes for e in self.events if isinstance(e, DroppedOutput) and e.name == name)
