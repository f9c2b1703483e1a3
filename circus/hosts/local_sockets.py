"""Bind the sockets :class:`~circus.hosts.local.LocalHost` holds, from a :class:`SocketSpec`.

Binding itself is papa-kernel's code (:func:`papa_kernel.sockets.bind_socket`), so circusd and
the kernel bind the same way; this module converts the spec, validates it, and holds the result.

A held socket is non-inheritable (Python's default); a child gets it only through ``pass_fds``
at the same fd number. With ``reuseport`` every child gets its *own* socket bound to the same
address (SO_REUSEPORT set before bind); the host's copy of a stream socket then stays bound but
does not listen, so the kernel never routes a connection to a socket nobody accepts on.
"""

from __future__ import annotations

import os
import socket

from circus.errors import HostError
from circus.hosts.base import SocketInfo, SocketSpec
from papa_kernel import sockets as kernel_sockets
from papa_kernel.errors import KernelError
from papa_kernel.records import replace
from papa_kernel.sockets import SocketOptions

FAMILIES = ("inet", "inet6", "unix")
TYPES = ("stream", "dgram", "seqpacket")


class HeldSocket:
    """A socket the host holds, with what is needed to clean it up. Compared by identity."""

    def __init__(
        self,
        spec: SocketSpec,
        sock: socket.socket,
        info: SocketInfo,
        unix_inode: tuple[int, int] | None = None,  # (st_dev, st_ino) of the path we created
    ) -> None:
        self.spec, self.sock, self.info, self.unix_inode = spec, sock, info, unix_inode

    @property
    def listening(self) -> bool:
        """True if connections/datagrams arrive on the host's own copy."""
        return not (self.spec.reuseport and _family(self.spec) != "unix")

    def close(self) -> None:
        """Close the host's copy; unlink the unix path if it is still the one we bound."""
        self.sock.close()
        if self.unix_inode and self.spec.path:
            try:
                info = os.lstat(self.spec.path)
                if (info.st_dev, info.st_ino) == self.unix_inode:
                    os.unlink(self.spec.path)
            except FileNotFoundError:
                pass


def _family(spec: SocketSpec) -> str:
    """The family a spec really asks for (a path means unix)."""
    return "unix" if spec.path else spec.family


def _options(spec: SocketSpec) -> SocketOptions:
    """The kernel's SocketOptions for ``spec`` (validated first: HostError names the field)."""
    family = _family(spec)
    if family not in FAMILIES:
        raise HostError(f"socket {spec.name}: unknown family {spec.family!r} (inet, inet6, unix)")
    if spec.type not in TYPES:
        raise HostError(
            f"socket {spec.name}: unknown type {spec.type!r} (stream, dgram, seqpacket)"
        )
    if family == "unix" and not spec.path:
        raise HostError(f"socket {spec.name}: a unix socket needs a path")
    if family == "unix" and not os.path.isabs(spec.path or ""):
        raise HostError(f"socket {spec.name}: unix path {spec.path!r} must be absolute")
    if spec.backlog < 0 or not 0 <= spec.port <= 65535:
        raise HostError(f"socket {spec.name}: bad backlog {spec.backlog} or port {spec.port}")
    if family == "unix":
        return SocketOptions(
            family="unix",
            type=spec.type,
            backlog=spec.backlog,
            path=spec.path,
            umask=spec.umask,
            replace=spec.replace,
        )
    return SocketOptions(
        family=family,
        type=spec.type,
        backlog=spec.backlog,
        host=spec.host,
        port=spec.port,
        interface=spec.interface,
        reuseport=spec.reuseport,
    )


def _bind(spec: SocketSpec, options: SocketOptions, listen: bool) -> socket.socket:
    try:
        return kernel_sockets.bind_socket(options, listen=listen)
    except KernelError as exc:
        raise HostError(f"socket {spec.name}: {exc}") from None


def bind_socket(spec: SocketSpec) -> HeldSocket:
    """Create, bind (and listen on) the socket described by ``spec``. Raises HostError."""
    options = _options(spec)
    sock = _bind(spec, options, listen=not (spec.reuseport and options.family != "unix"))
    unix_inode = None
    if options.family == "unix":
        info = os.lstat(options.path or "")
        unix_inode = (info.st_dev, info.st_ino)
    held = HeldSocket(spec, sock, SocketInfo(spec.name, "", "", None), unix_inode)
    held.info = describe(held)
    return held


def check_bindable(spec: SocketSpec) -> None:
    """Whether ``spec`` can be bound, without changing anything: a TCP/UDP address is bound
    once, without listening, and let go; a unix path is checked as the bind would (its
    directory exists; a file there is a socket and ``replace`` is set). Raises HostError with
    the reason (``Bind failed on 127.0.0.1:8080: Address already in use``)."""
    options = _options(spec)
    try:
        if options.family != "unix":
            kernel_sockets.bind_socket(options, listen=False).close()
        elif not kernel_sockets.replaceable_unix_path(options):
            directory = os.path.dirname(options.path or "") or "."
            if not os.path.isdir(directory):
                raise HostError(f"Bind failed on {options.path}: no directory {directory}")
    except KernelError as exc:
        raise HostError(str(exc)) from None


def bind_reuseport_copy(held: HeldSocket) -> socket.socket:
    """A fresh socket bound to the same address as ``held`` (for one child). Raises HostError."""
    options = replace(_options(held.spec), port=held.info.port or 0)
    return _bind(held.spec, options, listen=True)


def describe(held: HeldSocket) -> SocketInfo:
    """The :class:`SocketInfo` of a held socket (actual host and port after binding)."""
    spec = held.spec
    family = "unix" if held.sock.family == socket.AF_UNIX else spec.family
    if family == "unix":
        return SocketInfo(
            spec.name, family, spec.type, held.sock.fileno(), path=spec.path, backlog=spec.backlog
        )
    host, port = held.sock.getsockname()[:2]
    return SocketInfo(
        spec.name, family, spec.type, held.sock.fileno(), host=host, port=port, backlog=spec.backlog
    )
