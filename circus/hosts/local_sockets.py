"""Bind the sockets :class:`~circus.hosts.local.LocalHost` holds, from a :class:`SocketSpec`.

A held socket is non-inheritable (Python's default); a child gets it only through ``pass_fds``
at the same fd number. With ``reuseport`` every child gets its *own* socket bound to the same
address (SO_REUSEPORT set before bind); the host's copy of a stream socket then stays bound but
does not listen, so the kernel never routes a connection to a socket nobody accepts on.
"""

from __future__ import annotations

import os
import socket
import stat
from dataclasses import dataclass

from circus.errors import HostError
from circus.hosts.base import SocketInfo, SocketSpec

FAMILIES = {"inet": socket.AF_INET, "inet6": socket.AF_INET6, "unix": socket.AF_UNIX}
TYPES = {
    "stream": socket.SOCK_STREAM,
    "dgram": socket.SOCK_DGRAM,
    "seqpacket": socket.SOCK_SEQPACKET,
}
DEFAULT_HOSTS = {"inet": "127.0.0.1", "inet6": "::1"}


@dataclass(eq=False)
class HeldSocket:
    """A socket the host holds, with what is needed to clean it up."""

    spec: SocketSpec
    sock: socket.socket
    info: SocketInfo
    unix_inode: tuple[int, int] | None = None  # (st_dev, st_ino) of the path we created

    @property
    def listening(self) -> bool:
        """True if connections/datagrams arrive on the host's own copy."""
        return not (self.spec.reuseport and self.spec.family != "unix")

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


def _family_and_type(spec: SocketSpec) -> tuple[int, int]:
    family = "unix" if spec.path else spec.family
    if family not in FAMILIES:
        raise HostError(f"socket {spec.name}: unknown family {spec.family!r} (inet, inet6, unix)")
    if family == "unix" and not spec.path:
        raise HostError(f"socket {spec.name}: a unix socket needs a path")
    if spec.type not in TYPES:
        raise HostError(
            f"socket {spec.name}: unknown type {spec.type!r} (stream, dgram, seqpacket)"
        )
    return FAMILIES[family], TYPES[spec.type]


def _new_socket(spec: SocketSpec, family: int, type_: int) -> socket.socket:
    sock = socket.socket(family, type_)
    try:
        if family != socket.AF_UNIX:
            if type_ == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if spec.reuseport:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if spec.interface:
            device = spec.interface.encode() + b"\0"
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device)
    except OSError as exc:
        sock.close()
        raise HostError(f"socket {spec.name}: cannot set options: {exc.strerror or exc}") from None
    return sock


def _bind_unix(spec: SocketSpec, sock: socket.socket) -> tuple[int, int]:
    path = spec.path or ""
    if not os.path.isabs(path):
        raise HostError(f"socket {spec.name}: unix path {path!r} must be absolute")
    if os.path.lexists(path):
        if not spec.replace:
            raise HostError(f"socket {spec.name}: {path} already exists (replace it with replace)")
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise HostError(f"socket {spec.name}: {path} exists and is not a socket: kept")
        os.unlink(path)
    mode = None if spec.umask is None else 0o777 & ~spec.umask
    if mode is not None:
        os.fchmod(sock.fileno(), mode)  # never more permissive than asked, even for a moment
    sock.bind(path)
    if mode is not None:
        os.chmod(path, mode)
    info = os.lstat(path)
    return info.st_dev, info.st_ino


def _listen_if_needed(sock: socket.socket, spec: SocketSpec, type_: int, listen: bool) -> None:
    if listen and type_ in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET):
        sock.listen(spec.backlog)


def bind_socket(spec: SocketSpec) -> HeldSocket:
    """Create, bind (and listen on) the socket described by ``spec``. Raises HostError."""
    family, type_ = _family_and_type(spec)
    sock = _new_socket(spec, family, type_)
    unix_inode = None
    try:
        if family == socket.AF_UNIX:
            unix_inode = _bind_unix(spec, sock)
        else:
            host = spec.host or DEFAULT_HOSTS["inet6" if family == socket.AF_INET6 else "inet"]
            sock.bind((host, spec.port))
        held = HeldSocket(spec, sock, SocketInfo(spec.name, "", "", None), unix_inode)
        _listen_if_needed(sock, spec, type_, held.listening)
    except OSError as exc:
        sock.close()
        where = spec.path if family == socket.AF_UNIX else f"{spec.host or 'localhost'}:{spec.port}"
        raise HostError(f"socket {spec.name}: cannot bind {where}: {exc.strerror or exc}") from None
    held.info = describe(held)
    return held


def bind_reuseport_copy(held: HeldSocket) -> socket.socket:
    """A fresh socket bound to the same address as ``held`` (for one child). Raises HostError."""
    family, type_ = _family_and_type(held.spec)
    sock = _new_socket(held.spec, family, type_)
    try:
        sock.bind(held.sock.getsockname()[:2])
        _listen_if_needed(sock, held.spec, type_, True)
    except OSError as exc:
        sock.close()
        message = f"socket {held.spec.name}: cannot bind a reuseport copy: {exc.strerror}"
        raise HostError(message) from None
    return sock


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
