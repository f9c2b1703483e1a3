"""The process registry: which watcher owns each managed process, and the one place where host
events (output, exits, drop notices) are routed to their owners.

Events are applied in the order the host delivered them, never re-sorted. Each host guarantees
that, per process, every output chunk comes before the process's exit (the kernel merges its
records by sequence number and queues ``closed`` after the last chunk it read; LocalHost reads
what a dead child left in its pipes before it queues the exit). Re-sorting a batch by wall-clock
timestamp broke that guarantee: an exit stamped a little before the last output (a clock step,
or timestamps taken on different paths) overtook it, the process was forgotten, and its last
output was dropped as "unmanaged".

Processes are keyed by their host name (``circus.<watcher>.<wid>``-style, unique per host and
carried by every event) rather than by pid: events name processes, and a name stays valid for
the whole life of the process in the host, including after circusd restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from circus.delivery import BatchRefusals, OutputOwner
from circus.hosts.base import DroppedOutput, ExitRecord, HostEvent, OutputChunk, Refusal
from circus.worker_record import RecordedWorker, WorkerRecord

if TYPE_CHECKING:
    from circus.hosts.base import ProcessHost
    from circus.process import Process

log = logging.getLogger(__name__)


class ProcessOwner(OutputOwner, Protocol):
    """What the registry needs of the owner of a process (a watcher): its host, and where
    exits go (output goes where :class:`~circus.delivery.OutputOwner` says)."""

    host: ProcessHost

    def on_exit(self, proc: Process, record: ExitRecord) -> None:
        """Apply the exit of one of its processes."""
        ...


class ProcessRegistry:
    """Host name -> (watcher, process) for every managed process; dispatches host events.

    ``record`` returns the worker record of persistent hosts (None while there is none): a
    process of a persistent host is recorded while registered, so a lost kernel's orphans can
    be found by the next circusd.
    """

    def __init__(self, record: Callable[[], WorkerRecord | None]) -> None:
        self._record = record
        self._owners: dict[str, tuple[ProcessOwner, Process]] = {}
        self._spawning: dict[str, asyncio.Future[None]] = {}  # host name -> spawn in flight

    # --- membership -------------------------------------------------------------------------

    def add(self, watcher: ProcessOwner, proc: Process) -> None:
        """``proc`` (spawned or adopted) belongs to ``watcher`` from now on."""
        self._owners[proc.name] = (watcher, proc)
        record = self._record()
        if watcher.host.persistent and record is not None:
            record.added(RecordedWorker(proc.name, proc.pid, proc.started))

    def forget(self, name: str) -> None:
        """``name`` is no longer managed (it exited, or its watcher was removed)."""
        self._owners.pop(name, None)
        record = self._record()
        if record is not None:
            record.removed(name)

    def owner(self, name: str) -> tuple[ProcessOwner, Process] | None:
        return self._owners.get(name)

    def items(self) -> Iterator[tuple[str, ProcessOwner, Process]]:
        """A snapshot of (host name, watcher, process): safe to forget entries meanwhile."""
        return iter([(name, w, p) for name, (w, p) in self._owners.items()])

    def forget_watcher(self, watcher: ProcessOwner) -> None:
        for name, owner, _proc in self.items():
            if owner is watcher:
                self.forget(name)

    @contextlib.asynccontextmanager
    async def spawning(self, name: str) -> AsyncIterator[None]:
        """Around a spawn: output or the exit of ``name`` can arrive on the event connection
        before the spawn reply; dispatching waits for the spawn to finish (and the process to
        be registered) instead of dropping them."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._spawning[name] = done
        try:
            yield
        finally:
            self._spawning.pop(name, None)
            done.set_result(None)

    # --- dispatch ---------------------------------------------------------------------------

    async def dispatch(self, events: Sequence[HostEvent]) -> Refusal | None:
        """Apply a batch of host events in the order the host delivered them; output a failing
        stream could not take is refused (see :class:`~circus.hosts.base.Refusal` and
        :mod:`circus.streams.guard`)."""
        refusals = BatchRefusals()
        for event in events:
            pending = self._spawning.get(event.name)
            if pending is not None:
                await pending
            owner = self._owners.get(event.name)
            if owner is None:
                if isinstance(event, ExitRecord):
                    log.debug("exit of unmanaged process %s (%s)", event.name, event.exit_code)
                elif isinstance(event, OutputChunk):
                    log.debug("%d bytes of output of unmanaged process %s dropped",
                              len(event.data), event.name)  # fmt: skip
                continue
            watcher, proc = owner
            if isinstance(event, OutputChunk):
                refusals.deliver(watcher, proc, event)
            elif isinstance(event, ExitRecord):
                self.forget(event.name)
                refusals.exited(event.name)
                watcher.on_exit(proc, event)
            elif isinstance(event, DroppedOutput):
                refusals.dropped(watcher, event)
        return refusals.finish()

    def vanished(self, host: ProcessHost, alive: set[str]) -> None:
        """After a kernel was lost and found again: the processes of ``host`` it no longer
        knows are gone (the host set killed them if they still ran, orphaned) and reported as
        exited, so policy respawns them."""
        now = time.time()
        for name, watcher, proc in self.items():
            if watcher.host is host and name not in alive:
                log.warning("%s: process %d vanished with the kernel", watcher.name, proc.pid)
                self.forget(name)
                watcher.on_exit(proc, ExitRecord(name, now, None))
