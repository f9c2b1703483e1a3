"""Where circusd-stats gets its copies of circusd's listening sockets.

- Sockets of ``use_papa = false`` watchers live in circusd: circusd-stats, its support watcher,
  inherits them (``--socket NAME=FD``, from ``$(circus.sockets.NAME)``); one is used only if it
  is a listening socket at the address ``listsockets`` shows for that name.
- papa-kernel hands out duplicates of the sockets it holds (``pass sockets``, the same exchange
  circusd uses to keep its own copies, :mod:`circus.hosts.kernel_fds`), so these are watched
  whether circusd started circusd-stats or a user did.

A copy keeps its socket listening, so one is closed as soon as ``listsockets`` no longer
shows the socket (or shows it changed): circusd-stats must never keep an address bound that
circusd let go.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from circus.errors import CircusError
from circus.hosts import names
from circus.stats.sockets import SocketWatch, WatchedSocket

log = logging.getLogger(__name__)


def address_of(entry: dict[str, Any]) -> str:
    """``host:port`` or the path of a ``listsockets`` entry, as the original shows it."""
    if entry.get("path"):
        return str(entry["path"])
    return f"{entry.get('host')}:{entry.get('port')}"


def _matches(sock: socket.socket, entry: dict[str, Any]) -> bool:
    """True if ``sock`` listens where the ``listsockets`` entry says."""
    try:
        if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            return False
        where = sock.getsockname()
    except OSError:
        return False
    if entry.get("path"):
        return bool(where == entry["path"])
    return isinstance(where, tuple) and where[1] == entry.get("port")


def adopt_inherited(
    name: str, entry: dict[str, Any], inherited: dict[str, int]
) -> socket.socket | None:
    """The inherited socket of ``name`` if it is the one ``entry`` lists (it is then ours:
    closed when circusd no longer lists it), else None."""
    fd = inherited.get(name)
    if fd is None:
        return None
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        inherited.pop(name, None)
        return None
    if not _matches(sock, entry):
        sock.detach()  # not ours to close: leave the descriptor as it was
        return None
    inherited.pop(name, None)
    return sock


async def sync(
    watch: SocketWatch,
    listed: list[dict[str, Any]],
    kernel: str | None,
    inherited: dict[str, int] | None = None,
) -> None:
    """Make ``watch`` hold exactly the listed sockets it can get (see the module docstring);
    ``inherited``: ``{name: fd}`` of the inherited sockets not adopted yet."""
    wanted = {
        str(e["name"]): (int(e["fd"]), address_of(e))
        for e in listed
        if isinstance(e, dict) and e.get("name") and isinstance(e.get("fd"), int)
    }
    current = watch.names()
    for name, watched in current.items():
        if wanted.get(name) != (watched.fd, watched.address):
            watch.remove(name)
    by_name = {str(e["name"]): e for e in listed if isinstance(e, dict) and e.get("name")}
    missing = []
    for name in wanted:
        if name in watch.names():
            continue
        fd, address = wanted[name]
        sock = adopt_inherited(name, by_name[name], inherited if inherited is not None else {})
        if sock is not None:
            watch.add(WatchedSocket(name, sock, fd, address))
        else:
            missing.append(name)
    if not missing or not kernel:
        return
    # the kernel's client: only for sockets papa-kernel holds (~5 ms at circusd-stats' start)
    from circus.hosts.kernel_fds import pass_sockets
    from circus.hosts.kernel_protocol import parse_endpoint

    try:
        endpoint = parse_endpoint(kernel)
    except CircusError:
        return
    if endpoint.path is None:
        return
    for name in missing:
        kernel_name = names.socket_name(name.lower())
        try:
            got = await pass_sockets(endpoint, [kernel_name])
        except (CircusError, OSError) as exc:
            log.debug("socket %s: no duplicate from papa-kernel (%s)", name, exc)
            continue
        sock = got.get(kernel_name)
        if sock is None:
            for extra in got.values():
                extra.close()
            continue
        fd, address = wanted[name]
        watch.add(WatchedSocket(name, sock, fd, address))
