"""asyncio connections to papa-kernel: a pipelined command channel and a watch channel.

Rationale:

- **Pipelining.** The kernel answers the commands of one connection strictly in order, each
  reply framed by the ``\\n> `` prompt. :meth:`CommandChannel.request` therefore writes its line
  at once and queues a future; one reader task pops futures in order as replies arrive. A
  thousand ``spawn()`` calls from a thousand tasks become a thousand lines in a few writes,
  and the kernel's replies stream back: no round trip per command.
- **No hangs.** Every wait has a deadline. A closed connection, a malformed reply or a reply that
  does not come within ``request_timeout`` marks the channel *lost*: every pending and later
  request fails with :class:`KernelConnectionLost` and the ``on_lost`` callback runs once, so the
  arbiter can reconnect or stop. (After a missed reply the framing can no longer be trusted, so
  the channel is never reused.)
- **Watch.** A watch connection carries acknowledged batches (see :mod:`kernel_protocol`);
  the caller acknowledges a batch only after it has been handled.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import socket
import struct
from collections.abc import AsyncIterator, Callable

from circus.errors import KernelError, KernelUntrusted
from circus.hosts.kernel_protocol import (
    PROMPT,
    WATCH_STOPPED,
    Endpoint,
    ProtocolError,
    Record,
    read_batch,
    split_reply,
)
from circus.hosts.watch_reader import WatchReader

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0  # seconds to connect and receive the greeting
REQUEST_TIMEOUT = 60.0  # seconds a reply may take (a make process of a slow program included)
STREAM_LIMIT = 64 * 1024 * 1024  # longest reply accepted (1000s of processes in one listing)
PEERCRED = struct.Struct("3i")  # struct ucred {pid_t pid; uid_t uid; gid_t gid;} of SO_PEERCRED


class KernelUnavailable(KernelError):
    """Nobody answers at the kernel endpoint."""


class KernelConnectionLost(KernelError):
    """The connection to the kernel broke (closed, timed out, or garbled)."""


async def open_stream(
    endpoint: Endpoint, timeout: float = CONNECT_TIMEOUT
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect and consume the greeting; returns (reader, writer). KernelUnavailable if not."""
    async with _connecting(endpoint, timeout):
        if endpoint.path:
            reader, writer = await asyncio.open_unix_connection(endpoint.path, limit=STREAM_LIMIT)
            _check_peer(writer, endpoint)
        else:
            reader, writer = await asyncio.open_connection(
                endpoint.host, endpoint.port, limit=STREAM_LIMIT
            )
        try:
            await reader.readuntil(PROMPT)
        except BaseException:
            writer.close()
            raise
    return reader, writer


async def open_watch_stream(endpoint: Endpoint, timeout: float = CONNECT_TIMEOUT) -> WatchReader:
    """Like :func:`open_stream`, for a watch connection: its incoming bytes go to a
    :class:`~circus.hosts.watch_reader.WatchReader` (its ``transport`` writes)."""
    loop = asyncio.get_running_loop()
    reader = WatchReader(STREAM_LIMIT)
    async with _connecting(endpoint, timeout):
        if endpoint.path:
            transport, _ = await loop.create_unix_connection(lambda: reader, endpoint.path)
            try:
                check_peer(transport.get_extra_info("socket"), endpoint)
            except KernelUntrusted:
                transport.close()
                raise
        else:
            transport, _ = await loop.create_connection(
                lambda: reader, endpoint.host or "127.0.0.1", endpoint.port or 0
            )
        try:
            await reader.readuntil(PROMPT)
        except BaseException:
            transport.close()
            raise
    return reader


@contextlib.asynccontextmanager
async def _connecting(endpoint: Endpoint, timeout: float) -> AsyncIterator[None]:
    """Bound a connection and its greeting by ``timeout``; failures -> KernelUnavailable."""
    try:
        async with asyncio.timeout(timeout):
            yield
    except TimeoutError:
        raise KernelUnavailable(
            f"papa-kernel at {endpoint} did not answer within {timeout}s"
        ) from None
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise KernelUnavailable(f"cannot connect to papa-kernel at {endpoint}: {reason}") from None


def _check_peer(writer: asyncio.StreamWriter, endpoint: Endpoint) -> None:
    """Trust a kernel on a unix socket only if it runs as our own user (SO_PEERCRED).

    A kernel of another user, even root, is refused: whoever runs the kernel runs our workers
    and reads their environment. (Root's kernel socket is 0600 root's, so a non-root circusd
    could not use it anyway.) TCP endpoints carry no credentials: see docs/security.md."""
    try:
        check_peer(writer.get_extra_info("socket"), endpoint)
    except KernelUntrusted:
        writer.close()
        raise


def peer_credentials(sock: socket.socket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end of a unix socket (SO_PEERCRED)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEERCRED.size)
    pid, uid, _gid = PEERCRED.unpack(raw)
    return pid, uid


def check_peer(sock: socket.socket, endpoint: Endpoint) -> None:
    """KernelUntrusted unless the unix socket's peer runs as our own user (see _check_peer)."""
    pid, uid = peer_credentials(sock)
    if uid != os.geteuid():
        raise KernelUntrusted(
            f"papa-kernel at {endpoint} runs as uid {uid} (pid {pid}), not as the running user "
            f"(uid {os.geteuid()}): refusing to use it (another user may have planted it)"
        )


class CommandChannel:
    """One pipelined command connection. See the module docstring."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        endpoint: Endpoint,
        on_lost: Callable[[KernelError], None],
        request_timeout: float = REQUEST_TIMEOUT,
    ):
        self._reader = reader
        self._writer = writer
        self._endpoint = endpoint
        self._on_lost = on_lost
        self._timeout = request_timeout
        self._pending: collections.deque[asyncio.Future[str]] = collections.deque()
        self._lost: KernelError | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._task = asyncio.get_running_loop().create_task(
            self._read_replies(), name="papa-kernel replies"
        )

    @classmethod
    async def connect(
        cls,
        endpoint: Endpoint,
        on_lost: Callable[[KernelError], None],
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> CommandChannel:
        reader, writer = await open_stream(endpoint)
        return cls(reader, writer, endpoint, on_lost, request_timeout)

    @property
    def lost(self) -> KernelError | None:
        """Why the channel is unusable, or None while it works."""
        return self._lost

    @property
    def peer_pid(self) -> int | None:
        """The kernel's pid (SO_PEERCRED), or None on a TCP endpoint."""
        if not self._endpoint.path:
            return None
        return peer_credentials(self._writer.get_extra_info("socket"))[0]

    def send(self, line: str) -> asyncio.Future[str]:
        """Write one command line now; the future gets its reply body (or KernelError)."""
        if self._lost is not None:
            raise self._lost
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        if not self._pending:
            self._arm_deadline()
        self._pending.append(future)
        self._writer.write(line.encode("utf-8") + b"\n")
        return future

    async def request(self, line: str) -> str:
        """Send ``line`` and wait for its reply body. KernelError carries the kernel's message."""
        future = self.send(line)
        try:
            await self._writer.drain()
        except ConnectionError as exc:
            self._fail(
                KernelConnectionLost(f"connection to papa-kernel at {self._endpoint} lost: {exc}")
            )
        return await future

    async def wait(self, future: asyncio.Future[str]) -> str:
        """Wait for a future returned by :meth:`send` (the channel's deadline applies)."""
        return await future

    def _arm_deadline(self) -> None:
        """One timer per channel, not per request: the kernel must answer *something* within
        the timeout whenever a request is outstanding (it answers in order)."""
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = asyncio.get_running_loop().call_later(self._timeout, self._expired)

    def _expired(self) -> None:
        self._deadline = None
        if self._pending:
            self._fail(
                KernelConnectionLost(
                    f"papa-kernel at {self._endpoint} sent no reply for "
                    f"{self._timeout}s ({len(self._pending)} pending)"
                )
            )

    async def _read_replies(self) -> None:
        try:
            while True:
                raw = await self._reader.readuntil(PROMPT)
                if not self._pending:
                    raise ProtocolError(f"unexpected reply from the kernel: {raw[:200]!r}")
                future = self._pending.popleft()
                if self._pending:
                    self._arm_deadline()
                elif self._deadline is not None:
                    self._deadline.cancel()
                    self._deadline = None
                if future.done():
                    continue  # its caller went away; the reply is consumed all the same
                try:
                    future.set_result(split_reply(raw))
                except KernelError as exc:
                    future.set_exception(exc)
        except asyncio.CancelledError:
            raise
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            detail = f" ({exc.strerror})" if isinstance(exc, OSError) and exc.strerror else ""
            self._fail(
                KernelConnectionLost(
                    f"papa-kernel at {self._endpoint} closed the connection{detail}"
                )
            )
        except (asyncio.LimitOverrunError, ProtocolError) as exc:
            self._fail(
                KernelConnectionLost(f"garbled reply from papa-kernel at {self._endpoint}: {exc}")
            )

    def _fail(self, error: KernelError) -> None:
        if self._lost is not None:
            return
        self._lost = error
        log.debug("%s", error)  # the owner (KernelHost) reports it, unless it expected it
        self._shutdown(error)
        self._on_lost(error)

    def _shutdown(self, error: KernelError) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        while self._pending:
            future = self._pending.popleft()
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: no "exception never retrieved" noise
        self._writer.close()
        if self._task is not asyncio.current_task():
            self._task.cancel()

    async def close(self) -> None:
        """Close the connection; requests still pending fail with KernelConnectionLost."""
        if self._lost is None:
            self._lost = KernelConnectionLost(
                f"connection to papa-kernel at {self._endpoint} was closed by circusd"
            )
            self._shutdown(self._lost)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


class WatchChannel:
    """A connection in watch mode: read a batch, hand it over, acknowledge it."""

    def __init__(self, reader: WatchReader, endpoint: Endpoint):
        self._reader = reader
        self.endpoint = endpoint

    @classmethod
    async def start(cls, endpoint: Endpoint, command: str) -> tuple[WatchChannel, str]:
        """Connect and send a watch command; returns the channel and the first reply line
        (``Watching N``). KernelError if the kernel refuses the watch."""
        reader = await open_watch_stream(endpoint)
        channel = cls(reader, endpoint)
        try:
            channel._write(command.encode() + b"\n")
            async with asyncio.timeout(CONNECT_TIMEOUT):
                first = await reader.readuntil(b"\n")
                if first.startswith(b"Error: "):
                    rest = await reader.readuntil(b"> ")
                    raise KernelError(
                        (first + rest)[len(b"Error: ") : -len(PROMPT)].decode().strip()
                    )
        except TimeoutError:
            channel._close()
            raise KernelUnavailable(f"papa-kernel at {endpoint} did not start the watch") from None
        except BaseException:
            channel._close()
            raise
        return channel, first.decode().strip()

    async def next_batch(self) -> list[Record]:
        """The next batch's records. KernelConnectionLost if the connection broke."""
        try:
            return await read_batch(self._reader)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise KernelConnectionLost(
                f"papa-kernel at {self.endpoint} closed the watch "
                f"connection ({exc.__class__.__name__})"
            ) from None
        except asyncio.LimitOverrunError as exc:
            raise KernelConnectionLost(f"garbled watch data from papa-kernel: {exc}") from None

    async def acknowledge(self, stop: bool = False, hold: str = "") -> None:
        """Acknowledge the last batch (``q`` also ends the watch). ``hold`` (``NAME:out:N
        ...``) keeps the rest of those streams in the kernel until :meth:`release`."""
        self._write(b"q\n" if stop else f"hold {hold}\n".encode() if hold else b"\n")

    async def stop(self) -> None:
        """``q``: acknowledge the batch in flight and end the watch. Returns once the kernel
        confirmed, so it has applied the acknowledgement (an acknowledged ``closed`` record
        removes its process). A batch sent meanwhile is skipped (acknowledged unread)."""
        self._write(b"q\n")
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await self._reader.readuntil(WATCH_STOPPED)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError) as exc:  # fmt: skip
            raise KernelConnectionLost(
                f"papa-kernel at {self.endpoint} did not end the watch ({exc.__class__.__name__})"
            ) from None

    async def release(self, targets: str) -> None:
        """``release NAME:out ...``: the kernel sends the held output again (never an ack)."""
        self._write(f"release {targets}\n".encode())

    def _write(self, line: bytes) -> None:
        """Queue a line (a few bytes: acknowledgements never need flow control)."""
        transport = self._reader.transport
        if transport is None or transport.is_closing():
            raise KernelConnectionLost(
                f"papa-kernel at {self.endpoint} closed the watch connection"
            )
        transport.write(line)

    def _close(self) -> None:
        if self._reader.transport is not None:
            self._reader.transport.close()

    async def close(self) -> None:
        """Close without acknowledging: an unacknowledged batch is redelivered to the next
        watcher."""
        self._close()
        await self._reader.wait_closed()
