"""Duplicates of papa-kernel's listening sockets, so that they outlive a lost kernel.

Why: a socket lives as long as someone holds it. When the kernel dies, its workers (orphans)
still hold the listening sockets, but circusd must kill them, and then the address would be
closed (connections refused) until a new kernel binds it again. So circusd keeps a duplicate
of every kernel socket (``pass sockets``: the kernel attaches them to its reply with
SCM_RIGHTS) and starts the next kernel with them (``papa-kernel --socket-fd NAME=FD``): the
address stays bound and listening across the loss, and connections that arrive meanwhile wait
in the same queue for the new workers.

The exchange uses a short connection of its own (asyncio streams cannot receive fds); the
received fds are close-on-exec (``MSG_CMSG_CLOEXEC``), so no child of circusd inherits them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Sequence

from circus.errors import KernelError
from circus.hosts.kernel_client import CONNECT_TIMEOUT, KernelUnavailable, check_peer
from circus.hosts.kernel_protocol import PROMPT, Endpoint, split_reply

MAX_REPLY = 1024 * 1024  # a pass sockets reply is one list line per socket


async def pass_sockets(
    endpoint: Endpoint, names: Sequence[str], timeout: float = CONNECT_TIMEOUT
) -> dict[str, socket.socket]:
    """Duplicates of the kernel's sockets ``names``: {kernel socket name: socket}."""
    if endpoint.path is None:
        raise KernelError("sockets can be passed over a unix endpoint only")
    loop = asyncio.get_running_loop()
    fds: list[int] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.setblocking(False)
        try:
            async with asyncio.timeout(timeout):
                await loop.sock_connect(conn, endpoint.path)
                check_peer(conn, endpoint)
                await _read_reply(loop, conn, fds)  # the greeting
                await loop.sock_sendall(conn, f"pass sockets {' '.join(names)}\n".encode())
                body = split_reply(await _read_reply(loop, conn, fds))
        except BaseException as exc:
            _close(fds)
            if isinstance(exc, TimeoutError | OSError):
                raise KernelUnavailable(f"papa-kernel at {endpoint}: pass sockets: {exc}") from None
            raise
    lines = body.splitlines()
    if len(lines) != len(fds):
        _close(fds)
        raise KernelError(f"papa-kernel sent {len(fds)} sockets for {len(lines)} lines")
    names_sent = [line.split(" ", 1)[0] for line in lines]
    return {name: socket.socket(fileno=fd) for name, fd in zip(names_sent, fds, strict=True)}


async def _read_reply(
    loop: asyncio.AbstractEventLoop, conn: socket.socket, fds: list[int]
) -> bytes:
    """Read up to the prompt, collecting the fds that come with the bytes."""
    data = b""
    while not data.endswith(PROMPT):
        await _readable(loop, conn)
        try:
            chunk, got, _flags, _addr = socket.recv_fds(conn, 65536, 64, socket.MSG_CMSG_CLOEXEC)
        except (BlockingIOError, InterruptedError):
            continue
        fds += got
        if not chunk:
            raise ConnectionResetError("papa-kernel closed the connection")
        data += chunk
        if len(data) > MAX_REPLY:
            raise KernelError(f"papa-kernel's reply to pass sockets exceeds {MAX_REPLY} bytes")
    return data


async def _readable(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(conn, wake)
    try:
        await ready
    finally:
        loop.remove_reader(conn)


def _close(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
