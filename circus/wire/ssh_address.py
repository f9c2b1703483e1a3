"""``--ssh user@host[:port]``, and the endpoints an ssh tunnel (:mod:`circus.wire.ssh`) can
forward."""

from __future__ import annotations

import re

from circus.errors import CallError
from papa_kernel.records import frozen_record

_SERVER = re.compile(
    r"^(?:(?P<user>[^@\s]+)@)?(?P<host>\[[^\]\s]+\]|[^:@\s\[\]]+)(?::(?P<port>\d+))?$"
)


class TunnelError(CallError):
    """The ssh tunnel cannot be made or used; ``str()`` names the ssh host and why."""


@frozen_record
class SshServer:
    """``user@host[:port]`` as the manual writes it (``[::1]:2222`` for an IPv6 address)."""

    host: str
    user: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> SshServer:
        match = _SERVER.match(text.strip())
        port = match and match["port"]
        if not match or (port and not 0 < int(port) < 65536):
            raise TunnelError(f"--ssh {text!r}: expected user@host or user@host:port")
        return cls(match["host"].strip("[]"), match["user"], int(port) if port else None)

    @property
    def destination(self) -> str:
        """The ``[user@]host`` argument of ssh."""
        return f"{self.user}@{self.host}" if self.user else self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        return f"{user}{host}:{self.port}" if self.port else f"{user}{host}"


def forward_target(endpoint: str) -> str:
    """The ``-L`` target of a ZeroMQ endpoint as the ssh server sees it."""
    scheme, sep, address = endpoint.partition("://")
    if sep and scheme == "ipc" and address:
        return address
    if sep and scheme == "tcp":
        host, _, port = address.rpartition(":")
        if host in ("*", "0.0.0.0", ""):
            host = "127.0.0.1"
        elif host in ("[::]",):
            host = "[::1]"
        if port.isdigit() and host:
            return f"{host}:{port}"
    raise TunnelError(
        f"{endpoint!r} cannot go through an ssh tunnel: give a tcp:// or ipc:// endpoint"
    )
