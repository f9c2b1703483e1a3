"""Socket statistics: hits and backlog of the listening sockets circusd holds.

Body of ``stat.sockets.<fd>`` (the original's keys, plus ``backlog``)::

    {"fd": 5, "reads": 12, "address": "127.0.0.1:8080", "backlog": 0}

and of ``stat.sockets``: ``{"addresses": [...], "reads": <sum>}``. ``fd`` is the descriptor
number ``listsockets`` shows (the one workers inherit).

``reads`` (hits) keeps the original's meaning: in how many short windows of the last interval
the socket had incoming connections. The original found out by calling ``select()`` on every
socket a hundred times a second, busy or idle. Here each socket is in an edge-triggered epoll
set, so an idle socket costs nothing: the set's descriptor wakes the loop when connections
arrive, the edges are counted, and the set is not looked at again for :data:`RESOLUTION`
seconds (edges of that window coalesce into one hit, as in the original's 10 ms polls). The
watch never accepts: the workers' blocked ``accept()`` calls are exclusive waiters, epoll's are
not, so the kernel still wakes one worker per connection.

``backlog`` is the number of connections waiting to be accepted now (TCP: ``TCP_INFO``'s
``tcpi_unacked`` of a listening socket); ``"N/A"`` for unix sockets, which do not report it.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import struct
from typing import Any

from circus.procinfo import NOT_AVAILABLE

RESOLUTION = 0.01  # seconds during which new connections count as one hit (the original's)
_TCP_INFO_SIZE = 104
_TCPI_UNACKED = struct.Struct("=I")  # at offset 24: the accept queue length of a listener
_TCPI_UNACKED_OFFSET = 24


class WatchedSocket:
    """A duplicate of one of circusd's listening sockets (a plain class: dataclasses would
    import inspect into circusd-stats, ~10 ms of CPU at its start)."""

    __slots__ = ("address", "fd", "hits", "name", "sock")

    def __init__(self, name: str, sock: socket.socket, fd: int, address: str) -> None:
        self.name = name
        self.sock = sock
        self.fd = fd  # the number listsockets shows
        self.address = address
        self.hits = 0

    def __repr__(self) -> str:
        return f"WatchedSocket({self.name!r}, fd={self.fd}, {self.address!r}, hits={self.hits})"


def backlog(sock: socket.socket) -> int | str:
    """Connections waiting in ``sock``'s accept queue (TCP), else ``"N/A"``."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return NOT_AVAILABLE
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except OSError:
        return NOT_AVAILABLE
    return _TCPI_UNACKED.unpack_from(info, _TCPI_UNACKED_OFFSET)[0]


class SocketWatch:
    """Counts hits of watched sockets between two :meth:`collect` calls."""

    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float = RESOLUTION) -> None:
        self._loop = loop
        self._resolution = resolution
        self._epoll = select.epoll()
        self._by_fileno: dict[int, WatchedSocket] = {}
        self._armed = False
        self._rearm: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._by_fileno)

    def names(self) -> dict[str, WatchedSocket]:
        return {w.name: w for w in self._by_fileno.values()}

    def add(self, watched: WatchedSocket) -> None:
        fileno = watched.sock.fileno()
        self._epoll.register(fileno, select.EPOLLIN | select.EPOLLET)
        self._by_fileno[fileno] = watched
        self._arm()

    def remove(self, name: str) -> None:
        for fileno, watched in list(self._by_fileno.items()):
            if watched.name == name:
                with contextlib.suppress(OSError):
                    self._epoll.unregister(fileno)
                del self._by_fileno[fileno]
                watched.sock.close()

    def _arm(self) -> None:
        if not self._armed and self._rearm is None and not self._epoll.closed:
            self._loop.add_reader(self._epoll.fileno(), self._on_ready)
            self._armed = True

    def _on_ready(self) -> None:
        for fileno, _events in self._epoll.poll(0):
            watched = self._by_fileno.get(fileno)
            if watched is not None:
                watched.hits += 1
        # Look again only after a resolution window: a busy socket wakes us at most
        # 1/RESOLUTION times a second, however many connections it gets.
        self._loop.remove_reader(self._epoll.fileno())
        self._armed = False
        self._rearm = self._loop.call_later(self._resolution, self._after_window)

    def _after_window(self) -> None:
        self._rearm = None
        self._arm()

    def collect(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Per-socket bodies (hit counters reset) and the total."""
        bodies: list[dict[str, Any]] = []
        total = 0
        for watched in sorted(self._by_fileno.values(), key=lambda w: w.fd):
            bodies.append(
                {
                    "fd": watched.fd,
                    "reads": watched.hits,
                    "address": watched.address,
                    "backlog": backlog(watched.sock),
                }
            )
            total += watched.hits
            watched.hits = 0
        return bodies, {"addresses": [b["address"] for b in bodies], "reads": total}

    def close(self) -> None:
        if self._rearm is not None:
            self._rearm.cancel()
            self._rearm = None
        if self._armed:
            self._loop.remove_reader(self._epoll.fileno())
            self._armed = False
        for watched in self._by_fileno.values():
            watched.sock.close()
        self._by_fileno.clear()
        self._epoll.close()
