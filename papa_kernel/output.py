"""Bounded output buffer of one stream (stdout or stderr) of one process.

Chunks are stored as read (not split into lines), each with a kernel-wide sequence number (the
global arrival order, used to merge streams into batches) and a timestamp. The buffer holds at
most ``capacity`` bytes:

- while a watcher is attached, a full buffer *pauses* reading the pipe (the child blocks on its
  next write, as with a plain pipe) until an acknowledgement frees room: nothing is lost;
- while nobody watches, the kernel keeps reading and drops the oldest whole chunks beyond
  ``capacity`` (the newest chunk is always kept), counting the dropped bytes. Every dropped chunk
  is older than every kept one, so one counter per stream ("N bytes were lost before the first
  buffered chunk") is exact.

Acknowledgement is by sequence number, so two chunks with the same timestamp cannot be confused
(papa 1.0.6 acknowledged by timestamp).
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import itertools
import os
from collections.abc import Iterator

PIPE_SIZE = 64 * 1024  # Linux default pipe capacity: one read takes at most this much
BIG_PIPE_SIZE = 1024 * 1024  # a pipe found full is grown to this (fewer reads and records)

_sequence = itertools.count(1)
#: The chunks of every stream that holds none: one shared, empty, that drops anything appended
#: (a bug: :meth:`OutputStream.read` gives the stream a deque of its own first).
_NO_CHUNKS: collections.deque[tuple[int, float, bytes]] = collections.deque(maxlen=0)


def next_seq() -> int:
    """The next kernel-wide sequence number (monotonic; shared by every record)."""
    return next(_sequence)


class OutputStream:
    """One captured pipe and its buffered chunks ``(seq, timestamp, data)``."""

    # no per-instance dict: two streams per hosted worker
    __slots__ = (
        "capacity", "chunks", "drop_seq", "drop_time", "dropped_pending", "dropped_total", "fd",
        "kind", "nbytes", "paused", "read_size",
    )  # fmt: skip

    def __init__(self, kind: str, fd: int | None, capacity: int) -> None:
        self.kind = kind  # "out" | "err" (the watch record type)
        self.fd = fd  # non-blocking read end; None once closed
        self.capacity = capacity
        # _NO_CHUNKS until the first read: an empty deque is 760 bytes, two per worker
        self.chunks: collections.deque[tuple[int, float, bytes]] = _NO_CHUNKS
        self.nbytes = 0
        self.dropped_pending = 0  # bytes dropped before the first buffered chunk, not yet reported
        self.dropped_total = 0
        self.drop_seq = 0  # sequence number of the newest dropped chunk
        self.drop_time = 0.0
        self.paused = False  # True while back-pressure keeps the pipe unread
        self.read_size = PIPE_SIZE  # the pipe's capacity: reading more is pointless

    @property
    def full(self) -> bool:
        """True when no more should be read until room is freed."""
        return self.nbytes >= self.capacity

    def read(self, timestamp: float) -> int:
        """Read once from the pipe into the buffer.

        Returns the number of bytes read, 0 if the pipe is empty for now, -1 at EOF (or error).
        """
        try:
            data = os.read(self.fd, self.read_size)  # type: ignore[arg-type]
        except BlockingIOError:
            return 0
        except OSError:
            return -1
        if not data:
            return -1
        if len(data) == self.read_size < BIG_PIPE_SIZE <= self.capacity:
            self._grow_pipe()
        if self.chunks is _NO_CHUNKS:
            self.chunks = collections.deque()
        self.chunks.append((next_seq(), timestamp, data))
        self.nbytes += len(data)
        return len(data)

    def _grow_pipe(self) -> None:
        """A full pipe means a heavy writer: give it a big pipe (only this one, only once).

        Idle workers keep small pipes, so 1000 of them cost little kernel memory; a stream
        with a buffer smaller than the big pipe keeps its small pipe (its owner asked for
        little buffering).
        """
        self.read_size = BIG_PIPE_SIZE  # even if refused: the next read simply returns less
        if self.fd is None:
            return  # closed meanwhile: nothing to grow
        with contextlib.suppress(OSError):
            self.read_size = min(
                BIG_PIPE_SIZE, fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, BIG_PIPE_SIZE)
            )

    def drop_overflow(self) -> None:
        """Drop the oldest whole chunks while over capacity; the newest chunk always stays."""
        while self.nbytes > self.capacity and len(self.chunks) > 1:
            self._drop_oldest()

    def drop_all(self) -> None:
        """Drop every buffered chunk, counted and reported like an overflow (a client refused
        them again after the process exited, so they cannot be kept for a later try)."""
        while self.chunks:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        """Drop the oldest chunk, counted (reported by the next ``dropped`` record)."""
        seq, chunk_time, data = self.chunks.popleft()
        self.nbytes -= len(data)
        self.dropped_pending += len(data)
        self.dropped_total += len(data)
        self.drop_seq = seq
        self.drop_time = chunk_time  # the record sorts where the chunk was: keep its time

    def unsent(self, after_seq: int) -> Iterator[tuple[int, float, bytes]]:
        """Chunks with a sequence number above ``after_seq``, oldest first."""
        chunks = self.chunks
        if chunks and chunks[0][0] > after_seq:
            return iter(chunks)
        return itertools.dropwhile(lambda chunk: chunk[0] <= after_seq, chunks)

    def acknowledge(self, upto_seq: int, dropped_reported: int) -> None:
        """Forget chunks up to ``upto_seq`` and ``dropped_reported`` bytes of the drop count."""
        chunks = self.chunks
        while chunks and chunks[0][0] <= upto_seq:
            self.nbytes -= len(chunks.popleft()[2])
        if not chunks:
            self.chunks = _NO_CHUNKS  # an idle stream gives its deque back
        self.dropped_pending = max(0, self.dropped_pending - dropped_reported)

    def discard(self) -> None:
        """Forget everything buffered (the process was removed)."""
        self.chunks = _NO_CHUNKS
        self.nbytes = 0
        self.dropped_pending = 0

    def close(self) -> None:
        """Close the pipe (idempotent)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
