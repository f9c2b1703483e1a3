"""Output capture and event delivery for :class:`~circus.hosts.local.LocalHost`.

Rationale (back-pressure without loss):

- Each captured stream is a non-blocking pipe read end registered with ``loop.add_reader``.
  Bytes read are queued as :class:`OutputChunk` events, stamped with ``time.time()`` at read.
- A stream never holds more than its bound (``bufsize``) of queued-but-not-yet-handed-over
  bytes: reads are sized to the room left, and at the bound the reader is removed. The child
  then blocks on its full pipe, exactly as if it wrote to a slow terminal: nothing is dropped.
- One delivery task hands everything queued to ``on_events`` as one batch and awaits it. Taking
  a batch frees the room of every stream in it (readers resume), so at most one bound per stream
  waits while the handler works on the previous batch (double buffering).
- Events are queued in the order they were read, which is timestamp order (unless the wall clock
  steps back), and an exit is queued only after the output the process wrote before dying.
- Output the handler refused (a failing stream, :class:`~circus.hosts.base.Refusal`) is held in
  :mod:`circus.hosts.local_held`, with the chunks of that stream read meanwhile, and queued again
  when the hold is released (or before the process's exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from circus.hosts.base import (
    DroppedOutput,
    EventHandler,
    ExitRecord,
    HostEvent,
    OutputChunk,
    Refusal,
)
from circus.hosts.local_held import HeldOutput

log = logging.getLogger(__name__)

READ_SIZE = 65536  # bytes per read(): one default pipe buffer


@dataclass(eq=False)
class CapturedStream:
    """One captured stdout/stderr pipe of one child."""

    name: str  # process name
    stream: str  # "stdout" | "stderr"
    fd: int
    bound: int  # most bytes queued and not yet handed to the handler
    queued: int = 0
    reading: bool = False
    closed: bool = False


class OutputPump:
    """Reads captured pipes and delivers queued events to the handler in batches."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._queue: list[HostEvent] = []
        self._touched: set[CapturedStream] = set()
        self._attached: set[CapturedStream] = set()
        self._ready = asyncio.Event()
        self._handler: EventHandler | None = None
        self._task: asyncio.Task[None] | None = None
        self._held = HeldOutput()
        self._bounds: dict[tuple[str, str], int] = {}  # (name, stream) -> bufsize
        #: called with each batch just before it is handed over (the host drops exited records)
        self.on_batch_taken: Callable[[list[HostEvent]], None] = lambda batch: None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, handler: EventHandler) -> None:
        """Begin delivering to ``handler`` (events queued before are delivered first)."""
        self._handler = handler
        if self._task is None:
            self._task = self._loop.create_task(self._deliver_forever(), name="LocalHost events")
        self._ready.set()

    async def stop(self) -> None:
        """Stop delivering; events still queued are discarded. Safe to call from the handler
        (the delivery task then ends when the handler returns)."""
        task, self._task = self._task, None
        self._handler = None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._queue.clear()
        self._held.clear()

    # -- capture ----------------------------------------------------------------------------------

    def attach(self, stream: CapturedStream) -> None:
        """Start reading a pipe read end (already non-blocking)."""
        self._attached.add(stream)
        self._bounds[(stream.name, stream.stream)] = stream.bound
        self._resume(stream)

    def detach(self, stream: CapturedStream) -> None:
        """Stop reading and close the pipe (its queued chunks stay queued)."""
        if stream.closed:
            return
        self._pause(stream)
        stream.closed = True
        self._attached.discard(stream)
        os.close(stream.fd)

    def detach_all(self) -> None:
        """Close every pipe still attached (including ones a grandchild keeps open)."""
        for stream in list(self._attached):
            self.detach(stream)

    def drop_queued(self, name: str) -> None:
        """Discard every queued (or held) event of process ``name``."""
        self._queue = [event for event in self._queue if event.name != name]
        self._held.forget(name)

    def queue(self, event: HostEvent) -> None:
        """Queue an event (an exit or a drop notice) behind everything read so far; an exit
        ends the holds of its process first."""
        if isinstance(event, ExitRecord):
            self._queue.extend(self._held.release_process(event.name))
        self._queue.append(event)
        self._ready.set()

    def read_some(self, stream: CapturedStream, limit: int = READ_SIZE) -> str:
        """One read: returns ``"data"``, ``"empty"`` (would block), ``"eof"`` or ``"full"``."""
        room = min(stream.bound - stream.queued, limit)
        if stream.closed:
            return "eof"
        if room <= 0:
            self._pause(stream)
            return "full"
        try:
            data = os.read(stream.fd, room)
        except BlockingIOError:
            return "empty"
        except OSError as exc:  # EIO and friends: treat as the end of the stream
            log.warning("reading %s of %s failed: %s", stream.stream, stream.name, exc)
            data = b""
        if not data:
            self.detach(stream)
            return "eof"
        self._queue.append(OutputChunk(stream.name, stream.stream, time.time(), data))
        stream.queued += len(data)
        self._touched.add(stream)
        self._ready.set()
        if stream.queued >= stream.bound:
            self._pause(stream)
        return "data"

    def _on_readable(self, stream: CapturedStream) -> None:
        self.read_some(stream)

    def _pause(self, stream: CapturedStream) -> None:
        if stream.reading:
            self._loop.remove_reader(stream.fd)
            stream.reading = False

    def _resume(self, stream: CapturedStream) -> None:
        if not stream.reading and not stream.closed:
            self._loop.add_reader(stream.fd, self._on_readable, stream)
            stream.reading = True

    # -- delivery ---------------------------------------------------------------------------------

    def _take_batch(self) -> list[HostEvent]:
        batch, self._queue = self._queue, []
        if self._held:  # chunks of a held stream join the hold, in order, undelivered
            later: dict[tuple[str, str], list[HostEvent]] = {}
            kept = []
            for event in batch:
                key = (event.name, getattr(event, "stream", ""))
                if key in self._held and isinstance(event, OutputChunk | DroppedOutput):
                    later.setdefault(key, []).append(event)
                else:
                    kept.append(event)
            for key, events in later.items():
                self._held.hold(key, self._bounds.get(key, 1), events)
            batch = kept
        touched, self._touched = self._touched, set()
        for stream in touched:
            stream.queued = 0
            self._resume(stream)
        self.on_batch_taken(batch)
        return batch

    async def _deliver_forever(self) -> None:
        while self._task is asyncio.current_task():
            await self._ready.wait()
            self._ready.clear()
            if self._handler is None or not self._queue:
                continue
            batch = self._take_batch()
            if not batch:
                continue
            try:
                refusal = await self._handler(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the host event handler failed on a batch of %d events", len(batch))
                continue
            if refusal is not None:
                self._hold(batch, refusal)

    def _hold(self, batch: list[HostEvent], refusal: Refusal) -> None:
        exited = {event.name for event in batch if isinstance(event, ExitRecord)}
        keys = [key for key in refusal.taken if key[0] not in exited]
        for key in keys:
            events = [e for e in batch if (e.name, getattr(e, "stream", "")) == key]
            chunks = [e for e in events if isinstance(e, OutputChunk)]
            taken = refusal.taken[key]
            drops = [e for e in events if isinstance(e, DroppedOutput)] if taken == 0 else []
            self._held.hold(key, self._bounds.get(key, 1), [*drops, *chunks[taken:]])
        if keys:
            self._loop.call_later(refusal.retry_in, self._release, keys)

    def _release(self, keys: list[tuple[str, str]]) -> None:
        released = [event for key in keys for event in self._held.release(key)]
        if released:
            self._queue[:0] = released  # older than anything read since
            self._ready.set()
