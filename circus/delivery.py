"""One batch of host output handed to the watchers' streams: what was taken, what is refused.

A stream that fails refuses a chunk (:mod:`circus.streams.guard`). From then on the rest of that
process's stream in the batch is refused too, without a write, so the output keeps its order: the
host keeps it and delivers it again later (:class:`~circus.hosts.base.Refusal`). Drop reports of
a refused stream stay with the host as well and are logged once delivered.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from circus.hosts.base import DroppedOutput, OutputChunk, Refusal

if TYPE_CHECKING:
    from circus.process import Process
    from circus.streams.guard import StreamGuard

log = logging.getLogger(__name__)

#: Shortest delay before refused output is delivered again.
MIN_RETRY = 0.05

Key = tuple[str, str]  # (process name, "stdout" | "stderr")


class OutputOwner(Protocol):
    """What delivery needs of the owner of a process (a watcher)."""

    name: str

    def on_output(self, proc: Process, chunk: OutputChunk) -> bool:
        """Write a chunk to its stream; False if the stream refused it."""
        ...

    def output_guard(self, which: str) -> StreamGuard:
        """The guard of the ``stdout``/``stderr`` stream."""
        ...


class BatchRefusals:
    """Delivers the output events of one batch and builds its :class:`Refusal`."""

    def __init__(self) -> None:
        self.taken: dict[Key, int] = {}
        self.refused: dict[Key, tuple[OutputOwner, int]] = {}  # -> (owner, bytes refused)
        self.exits: set[str] = set()
        self.drops: list[tuple[OutputOwner, DroppedOutput]] = []
        self.retry_in = MIN_RETRY

    def deliver(self, watcher: OutputOwner, proc: Process, chunk: OutputChunk) -> None:
        key = (chunk.name, chunk.stream)
        refused = self.refused.get(key)
        if refused is not None:
            self.refused[key] = (watcher, refused[1] + len(chunk.data))
        elif watcher.on_output(proc, chunk):
            self.taken[key] = self.taken.get(key, 0) + 1
        else:
            self.refused[key] = (watcher, len(chunk.data))
            retry = watcher.output_guard(chunk.stream).retry_in()
            self.retry_in = max(self.retry_in, retry)

    def exited(self, name: str) -> None:
        self.exits.add(name)

    def dropped(self, watcher: OutputOwner, event: DroppedOutput) -> None:
        self.drops.append((watcher, event))

    def finish(self) -> Refusal | None:
        """Log the drops delivered for good; the Refusal of the batch (None: all taken)."""
        held: dict[Key, int] = {}
        for key, (watcher, nbytes) in self.refused.items():
            if key[0] in self.exits:  # its exit is acknowledged with this batch: lost
                watcher.output_guard(key[1]).lose(nbytes)
            else:
                held[key] = self.taken.get(key, 0)
        for watcher, event in self.drops:
            if held.get((event.name, event.stream)) == 0:
                continue  # not acknowledged: reported again with the held output
            log.warning(
                "%s: the host dropped %d bytes of %s (nobody read them in time, or its "
                "stream was failing)",
                watcher.name,
                event.nbytes,
                event.stream,
            )
        return Refusal(held, self.retry_in) if held else None
