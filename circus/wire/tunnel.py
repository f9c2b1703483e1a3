"""Sockets that may reach circusd through an ssh tunnel: :func:`through`, :class:`TunnelUser`
and the original's :func:`get_connection`.

Apart from :mod:`circus.wire.ssh` (the tunnels themselves: subprocess, select, shlex, signal...)
so that a client given no ``ssh_server`` imports none of it: circusctl, run hundreds of times a
day, almost never goes through ssh.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from circus.wire.ssh import SshTunnel


class TunnelUser:
    """Mixin of a socket owner that may hold a tunnel (``self.tunnel``, from :func:`through`)."""

    tunnel: SshTunnel | None = None

    def _release_tunnel(self) -> None:
        tunnel, self.tunnel = self.tunnel, None
        if tunnel is not None:
            tunnel.release()


def through(
    endpoint: str | None,
    default: Callable[[], str],
    ssh_server: str | None,
    ssh_keyfile: str | None = None,
    timeout: float | None = None,
) -> tuple[str, str, SshTunnel | None]:
    """``(endpoint, address, tunnel)``: the endpoint (``endpoint``, else ``default()``: circusd's
    default, here or on the ssh host) and where ZeroMQ connects for it: the endpoint itself
    without ``ssh_server``, else the local end of a forward through the process' shared tunnel
    to ``ssh_server`` (its login within ``timeout`` seconds, default
    :data:`circus.wire.ssh.DEFAULT_TIMEOUT`), which the caller releases
    (:meth:`SshTunnel.release`) with its socket."""
    if not ssh_server:
        endpoint = endpoint or default()
        return endpoint, endpoint, None
    from circus.wire.ssh import DEFAULT_TIMEOUT, SshTunnel

    tunnel = SshTunnel.shared(
        ssh_server, ssh_keyfile, DEFAULT_TIMEOUT if timeout is None else timeout
    )
    try:
        endpoint = endpoint or tunnel.remote_default(default())
        return endpoint, tunnel.forward(endpoint), tunnel
    except BaseException:
        tunnel.release()
        raise


def get_connection(
    socket: Any, endpoint: str, ssh_server: str | None = None, ssh_keyfile: str | None = None
) -> None:
    """The original's ``circus.util.get_connection``: connect a ZeroMQ socket to ``endpoint``,
    through an ssh tunnel when ``ssh_server`` is given (held until the process exits, as the
    original's)."""
    _, address, _tunnel = through(endpoint, lambda: endpoint, ssh_server, ssh_keyfile)
    socket.connect(address)
