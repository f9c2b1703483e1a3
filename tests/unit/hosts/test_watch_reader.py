"""WatchReader: the watch connection's reads, fed the way asyncio feeds a BufferedProtocol."""

from __future__ import annotations

import asyncio
import random

import pytest

from circus.hosts.kernel_protocol import read_batch
from circus.hosts.watch_reader import INITIAL_SIZE, WatchReader

pytestmark = pytest.mark.timeout(30)


def feed(reader: WatchReader, data: bytes) -> None:
    """What the transport does: recv_into the offered buffer, then buffer_updated."""
    while data:
        view = reader.get_buffer(-1)
        size = min(len(view), len(data))
        view[:size] = data[:size]
        del view  # the transport drops its view before the next get_buffer
        reader.buffer_updated(size)
        data = data[size:]


def feed_in_pieces(reader: WatchReader, data: bytes, seed: int) -> None:
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    delay = 0.0
    position = 0
    while position < len(data):
        size = rng.choice([1, 2, 7, 4096, 65536, 300_000])
        piece = data[position : position + size]
        position += size
        delay += 0.0001
        loop.call_later(delay, feed, reader, piece)


def batch(*chunks: bytes) -> bytes:
    records = [
        b"out:circus.w.%d:1795604850.5:%d\n%s" % (n, len(c), c) for n, c in enumerate(chunks)
    ]
    return b"\n".join(records) + b"\n] "


@pytest.mark.parametrize("seed", range(5))
def test_batches_fed_in_any_pieces_read_whole_and_in_order(seed):
    big = bytes(range(256)) * 4096  # 1 MiB, every byte value, a "\n] " inside too
    chunks = [b"hello\n", big, b"\n] \n", b"x" * (INITIAL_SIZE + 17)]

    async def run():
        reader = WatchReader(limit=1 << 20)
        wire = b"Watching 3\n" + batch(*chunks) + batch(b"second")
        feed_in_pieces(reader, wire, seed)
        assert await reader.readuntil(b"\n") == b"Watching 3\n"
        first = await read_batch(reader)
        second = await read_batch(reader)
        return first, second

    first, second = asyncio.run(run())
    assert [fields[2] for _kind, fields in first] == chunks
    assert [fields[0] for _kind, fields in first] == [f"circus.w.{n}" for n in range(4)]
    assert second == [("out", ("circus.w.0", 1795604850.5, b"second"))]


def test_end_of_stream_and_limits_raise_as_a_stream_reader_does():
    async def run():
        reader = WatchReader(limit=10)
        feed(reader, b"abc")
        reader.eof_received()
        with pytest.raises(asyncio.IncompleteReadError) as short:
            await reader.readexactly(5)
        assert short.value.partial == b"abc"

        reader = WatchReader(limit=10)
        feed(reader, b"x" * 20)
        with pytest.raises(asyncio.LimitOverrunError):
            await reader.readuntil(b"\n")

        reader = WatchReader(limit=10)
        waiting = asyncio.ensure_future(reader.readexactly(4))
        await asyncio.sleep(0)
        reader.connection_lost(ConnectionResetError("reset"))
        with pytest.raises(ConnectionResetError):
            await waiting

    asyncio.run(run())


def test_a_reader_waiting_for_n_bytes_is_woken_once_they_are_there():
    async def run():
        reader = WatchReader(limit=1 << 20)
        wakeups = 0
        original = reader._wake

        def counting_wake() -> None:
            nonlocal wakeups
            wakeups += reader._waiter is not None
            original()

        reader._wake = counting_wake  # type: ignore[method-assign]
        waiting = asyncio.ensure_future(reader.readexactly(300_000))
        await asyncio.sleep(0)
        for _ in range(10):  # ten reads of 30,000 bytes, as a socket delivers them
            feed(reader, b"y" * 30_000)
        assert await waiting == b"y" * 300_000
        return wakeups

    assert asyncio.run(run()) == 1
