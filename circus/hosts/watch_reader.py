"""The reading side of a kernel watch connection: one reused buffer, one wake-up per need.

Why not asyncio's StreamReader: a flood of output reaches circusd as 1 MiB batches, and the
StreamReader path copied every byte three times after the socket read (``bytearray.extend``,
then ``readexactly``'s slice and its ``bytes``), allocated a new 256 KiB object per read, and
woke the reading task at every 256 KiB read to find that its 1 MiB chunk was not complete
yet: about a third of circusd's CPU per MiB (docs/benchmarks.md, "Where the time goes during a
flood"). :class:`WatchReader` is a :class:`asyncio.BufferedProtocol`: the socket is read
(``recv_into``) straight into one buffer that is reused for every batch (at most one batch is
in flight, and it is consumed before it is acknowledged, so the buffer is usually empty when
the next one starts), a chunk is copied once (into the ``bytes`` handed to the streams), and
the task waiting for ``n`` bytes or a separator is woken only once they are there.

It offers the two reads the watch code uses, with StreamReader's semantics and exceptions
(``readexactly`` and ``readuntil``: :class:`asyncio.IncompleteReadError` at the end of the
stream, :class:`asyncio.LimitOverrunError` past ``limit``, the connection's error if it broke),
so :func:`circus.hosts.kernel_protocol.read_batch` reads either.
"""

from __future__ import annotations

import asyncio

INITIAL_SIZE = 256 * 1024  # the buffer grows (doubling) to the largest batch seen
MIN_FREE = 64 * 1024  # free room offered to each socket read


class WatchReader(asyncio.BufferedProtocol):
    """A connection's incoming bytes, read into one reused buffer (module docstring)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._buffer = bytearray(INITIAL_SIZE)
        self._start = 0  # first unread byte
        self._end = 0  # end of the bytes read
        self._need = 0  # bytes the waiting task needs before it is woken (0: any)
        self._waiter: asyncio.Future[None] | None = None
        self._eof = False
        self._error: BaseException | None = None
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    # -- protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._start == self._end:
            self._start = self._end = 0  # all consumed: start over at the front
        if len(self._buffer) - self._end < MIN_FREE:
            unread = self._end - self._start
            if self._start and unread + MIN_FREE <= len(self._buffer):
                self._buffer[:unread] = self._buffer[self._start : self._end]  # compact
            else:
                grown = bytearray(max(2 * len(self._buffer), unread + MIN_FREE))
                grown[:unread] = self._buffer[self._start : self._end]
                self._buffer = grown
            self._start, self._end = 0, unread
        return memoryview(self._buffer)[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        self._end += nbytes
        if self._end - self._start >= self._need:
            self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._error = exc
        self._wake()
        if not self._closed.done():
            self._closed.set_result(None)

    async def wait_closed(self) -> None:
        """Until the connection is closed (after ``transport.close()``)."""
        if self.transport is not None:
            await self._closed

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- reading ----------------------------------------------------------------------------
    async def _wait(self, need: int) -> None:
        """Wait until ``need`` unread bytes are there (or more data, ``need`` = 0), or EOF."""
        if self._error is not None:
            raise self._error
        if self._eof:
            return
        self._need = need
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
            self._need = 0
        if self._error is not None:
            raise self._error

    def _take(self, size: int) -> bytes:
        with memoryview(self._buffer) as view:
            data = bytes(view[self._start : self._start + size])
        self._start += size
        return data

    async def readexactly(self, size: int) -> bytes:
        """Exactly ``size`` bytes; IncompleteReadError if the stream ends first."""
        while self._end - self._start < size:
            if self._eof:
                partial = self._take(self._end - self._start)
                raise asyncio.IncompleteReadError(partial, size)
            await self._wait(size)
        return self._take(size)

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """The bytes up to and including ``separator``; IncompleteReadError if the stream
        ends first, LimitOverrunError when ``limit`` bytes hold no separator."""
        searched = 0  # unread bytes already searched (relative: the buffer may be compacted)
        while True:
            found = self._buffer.find(separator, self._start + searched, self._end)
            if found >= 0:
                return self._take(found + len(separator) - self._start)
            searched = max(0, self._end - self._start - len(separator) + 1)
            if self._end - self._start > self._limit:
                raise asyncio.LimitOverrunError(
                    "separator not found within the limit", self._end - self._start
                )
            if self._eof:
                partial = self._take(self._end - self._start)
                raise asyncio.IncompleteReadError(partial, None)
            await self._wait(0)
