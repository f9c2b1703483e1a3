"""Where circusd-stats gets its duplicates of circusd's listening sockets.

papa-kernel hands out duplicates of the sockets it holds (``pass sockets``, the same exchange
circusd uses to keep its own copies, :mod:`circus.hosts.kernel_fds`), so circusd-stats works the
same whether circusd started it or a user did. Sockets of ``use_papa = false`` watchers live in
circusd alone and are not watched.

A duplicate keeps its socket listening, so one is closed as soon as ``listsockets`` no longer
shows the socket (or shows it changed): circusd-stats must never keep an address bound that
circusd let go.
"""

from __future__ import annotations

import logging
from typing import Any

from circus.errors import CircusError
from circus.hosts import names
from circus.hosts.kernel_fds import pass_sockets
from circus.hosts.kernel_protocol import parse_endpoint
from circus.stats.sockets import SocketWatch, WatchedSocket

log = logging.getLogger(__name__)


def address_of(entry: dict[str, Any]) -> str:
    """``host:port`` or the path of a ``listsockets`` entry, as the original shows it."""
    if entry.get("path"):
        return str(entry["path"])
    return f"{entry.get('host')}:{entry.get('port')}"


async def sync(watch: SocketWatch, listed: list[dict[str, Any]], kernel: str | None) -> None:
    """Make ``watch`` hold exactly the listed sockets it can get (see the module docstring)."""
    wanted = {
        str(e["name"]): (int(e["fd"]), address_of(e))
        for e in listed
        if isinstance(e, dict) and e.get("name") and isinstance(e.get("fd"), int)
    }
    current = watch.names()
    for name, watched in current.items():
        if wanted.get(name) != (watched.fd, watched.address):
            watch.remove(name)
    missing = [name for name in wanted if name not in watch.names()]
    if not missing or not kernel:
        return
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
