"""The last output of a watcher, kept in memory for ``tail`` (circushttpd's live output view).

Every chunk a watcher's stream took is also appended here, numbered (``seq``, increasing from
0 for the watcher's life). The oldest chunks go once the total passes :data:`TAIL_BYTES`; the
newest chunk is always kept, cut to its last :data:`TAIL_BYTES` bytes. The chunks are the
stream's own ``bytes`` objects, so keeping them costs no copy. Nothing here is persistent: the
streams are the record of the output, this is a window onto its end.
"""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

#: Bytes of output kept per watcher.
TAIL_BYTES = 64 * 1024
#: Bytes one ``tail`` reply carries at most (the client asks again from ``next``).
REPLY_BYTES = 256 * 1024


class TailChunk(NamedTuple):
    seq: int
    pid: int
    stream: str  # "stdout" | "stderr"
    timestamp: float
    data: bytes


class OutputTail:
    """A bounded window onto the end of one watcher's output."""

    def __init__(self, limit: int = TAIL_BYTES):
        self.limit = limit
        self._chunks: deque[TailChunk] = deque()
        self._size = 0
        self._next = 0

    def add(self, pid: int, stream: str, timestamp: float, data: bytes) -> None:
        if not data:
            return
        if len(data) > self.limit:
            data = data[-self.limit :]
        self._chunks.append(TailChunk(self._next, pid, stream, timestamp, data))
        self._next += 1
        self._size += len(data)
        while self._size > self.limit and len(self._chunks) > 1:
            self._size -= len(self._chunks.popleft().data)

    def since(self, seq: int | None = None, max_bytes: int = REPLY_BYTES) -> dict[str, Any]:
        """The chunks from ``seq`` on (all kept ones for None), as the ``tail`` reply:
        ``{"chunks": [...], "next": N, "missed": bool}``; ``missed`` is true when chunks
        between ``seq`` and the first returned one are gone."""
        first = self._chunks[0].seq if self._chunks else self._next
        start = first if seq is None else max(seq, first)
        missed = seq is not None and seq < first
        chunks: list[dict[str, Any]] = []
        size, following = 0, self._next
        for chunk in self._chunks:
            if chunk.seq < start:
                continue
            if chunks and size + len(chunk.data) > max_bytes:
                following = chunk.seq
                break
            size += len(chunk.data)
            chunks.append(
                {
                    "seq": chunk.seq,
                    "pid": chunk.pid,
                    "stream": chunk.stream,
                    "time": chunk.timestamp,
                    "data": chunk.data.decode("utf-8", "replace"),
                }
            )
        return {"chunks": chunks, "next": following, "missed": missed}
