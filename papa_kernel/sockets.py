"""Binding sockets from options, and the kernel's registry of named sockets.

Public, stable API (circusd's LocalHost imports it; keep the signatures):

- :class:`SocketOptions` - what to bind (family, type, host/port or path, ...).
- :func:`bind_socket(options, listen=True) -> socket.socket` - create, configure, bind and (for
  stream/seqpacket) listen; raises :class:`papa_kernel.errors.SocketError` naming the problem.
- :func:`parse_socket_options(options: dict[str, str]) -> SocketOptions` - from protocol options.

Why these rules: ``SO_REUSEPORT`` must be set *before* bind or a second bind fails on Linux (the
original set it after). A reuseport socket held by the kernel is bound but never listening, so
it keeps the port reserved without taking a share of the connections; each process gets its own
bound and listening copy. A unix socket path is replaced only if it is a socket (never a regular
file), and only when ``replace`` allows it.

Inherited sockets (``papa-kernel --socket-fd NAME=FD``): a client that held duplicates of a lost
kernel's sockets (``pass sockets``) starts the next kernel with them, so the listening sockets,
their addresses and their queued connections survive the loss. Such a socket is held under
NAME with the options read from the socket itself; the first ``make socket NAME`` whose address
matches claims it (its options, backlog included, then apply) instead of binding again.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat

from papa_kernel.errors import CommandError, ConflictError, SocketError
from papa_kernel.protocol import parse_bool, parse_int, require_value
from papa_kernel.records import frozen_record, replace

DEFAULT_BACKLOG = 5  # papa 1.0.6 default; circusd passes its own (2048)
MAX_BACKLOG = 2**31 - 1  # listen(2) takes a C int; Linux then caps it at net.core.somaxconn
MAX_PORT = 65535
MAX_UMASK = 0o777  # 511: the decimal spelling papa clients send
FAMILIES = {"unix": socket.AF_UNIX, "inet": socket.AF_INET, "inet6": socket.AF_INET6}
TYPES = {
    "stream": socket.SOCK_STREAM,
    "dgram": socket.SOCK_DGRAM,
    "seqpacket": socket.SOCK_SEQPACKET,
}
LISTENING_TYPES = frozenset({"stream", "seqpacket"})  # a datagram socket cannot listen()
SOCKET_OPTION_KEYS = frozenset(
    {
        "family",
        "type",
        "backlog",
        "path",
        "umask",
        "host",
        "port",
        "interface",
        "reuseport",
        "replace",
        "systemd",
    }
)


@frozen_record
class SocketOptions:
    """What to bind. ``port=0`` lets the OS choose; ``umask`` applies around a unix bind."""

    family: str = "inet"
    type: str = "stream"
    backlog: int = DEFAULT_BACKLOG
    host: str | None = None
    port: int = 0
    path: str | None = None
    umask: int | None = None
    interface: str | None = None
    reuseport: bool = False
    replace: bool = True
    systemd: str | None = None  # take the socket systemd passed under this FileDescriptorName

    def default_host(self) -> str:
        """Loopback unless an interface is named (then every address of that interface)."""
        if self.family == "inet6":
            return "::" if self.interface else "::1"
        return "0.0.0.0" if self.interface else "127.0.0.1"


def parse_socket_options(options: dict[str, str]) -> SocketOptions:
    """Validate ``make socket`` options; raises CommandError naming the bad option."""
    unknown = sorted(set(options) - SOCKET_OPTION_KEYS)
    if unknown:
        raise CommandError(f'Unknown socket option "{unknown[0]}"')
    if "systemd" in options:
        others = sorted(set(options) - {"systemd", "backlog", "family", "type"})
        if others:  # the address is the .socket unit's; a second one here would be ignored
            raise CommandError(f'Option "{others[0]}" cannot be combined with "systemd" (the '
                               "address is set by the .socket unit)")  # fmt: skip
        return SocketOptions(systemd=require_value("systemd", options["systemd"]))
    path = options.get("path")
    family = options.get("family", "unix" if path else "inet").lower()
    if family not in FAMILIES:
        raise CommandError(f'Bad family "{family}": use one of {", ".join(FAMILIES)}')
    sock_type = options.get("type", "stream").lower()
    if sock_type not in TYPES:
        raise CommandError(f'Bad type "{sock_type}": use one of {", ".join(TYPES)}')
    result = SocketOptions(
        family=family,
        type=sock_type,
        backlog=parse_int(
            "backlog", options.get("backlog", str(DEFAULT_BACKLOG)), minimum=0, maximum=MAX_BACKLOG
        ),
        replace=parse_bool("replace", options.get("replace", "1")),
    )
    if family == "unix":
        return _parse_unix(result, options)
    return _parse_inet(result, options)


def _parse_unix(result: SocketOptions, options: dict[str, str]) -> SocketOptions:
    for key in ("host", "port", "interface", "reuseport"):
        if key in options:
            raise CommandError(f'Option "{key}" does not apply to unix sockets')
    path = require_value("path", options.get("path", ""))
    if not os.path.isabs(path):
        raise CommandError(f'Unix socket path must be absolute, not "{path}"')
    umask = None
    if "umask" in options:  # decimal, as papa 1.0.6 clients send it (18 == 0o22)
        umask = parse_int("umask", options["umask"], minimum=0, maximum=MAX_UMASK)
    return replace(result, path=path, umask=umask)


def _parse_inet(result: SocketOptions, options: dict[str, str]) -> SocketOptions:
    for key in ("path", "umask"):
        if key in options:
            raise CommandError(f'Option "{key}" only applies to family=unix')
    port = parse_int("port", options.get("port", "0"), minimum=0, maximum=MAX_PORT)
    interface = options.get("interface")
    if interface is not None:
        require_value("interface", interface)
    host = options.get("host")
    if host is not None:
        require_value("host", host)
    reuseport = parse_bool("reuseport", options["reuseport"]) if "reuseport" in options else False
    return replace(result, port=port, host=host, interface=interface, reuseport=reuseport)


def bind_socket(options: SocketOptions, listen: bool = True) -> socket.socket:
    """Create and bind a socket as ``options`` say; listen if ``listen`` and the type allows.

    The socket is non-inheritable (a child gets it only when explicitly passed). Raises
    SocketError with the address and the OS reason.
    """
    sock = socket.socket(FAMILIES[options.family], TYPES[options.type])
    try:
        if options.family == "unix":
            _bind_unix(sock, options)
        else:
            _bind_inet(sock, options)
        if listen and options.type in LISTENING_TYPES:
            sock.listen(options.backlog)
    except OSError as exc:
        sock.close()
        raise SocketError(
            f"Bind failed on {describe_address(options)}: {exc.strerror or exc}"
        ) from None
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_inet(sock: socket.socket, options: SocketOptions) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if options.reuseport:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # before bind, or it fails
    if options.interface:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, options.interface.encode())
    host = options.host or options.default_host()
    try:
        infos = socket.getaddrinfo(host, options.port, sock.family, sock.type)
    except socket.gaierror as exc:
        raise SocketError(f'Cannot resolve host "{host}": {exc.strerror}') from None
    sock.bind(infos[0][4])


def replaceable_unix_path(options: SocketOptions) -> bool:
    """Whether the unix socket ``options.path`` may be bound: False if nothing is there, True
    if a socket is there that ``replace`` lets us remove; raises SocketError otherwise."""
    path = options.path or ""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISSOCK(info.st_mode):
        raise SocketError(f"{path} exists and is not a socket; refusing to replace it")
    if not options.replace:
        raise SocketError(f"{path} exists and replace=0 was given")
    return True


def _bind_unix(sock: socket.socket, options: SocketOptions) -> None:
    path = options.path or ""
    if replaceable_unix_path(options):
        os.unlink(path)
    old_umask = os.umask(options.umask) if options.umask is not None else None
    try:
        sock.bind(path)
    finally:
        if old_umask is not None:
            os.umask(old_umask)


def describe_address(options: SocketOptions) -> str:
    """``host:port`` or the unix path, for messages."""
    if options.family == "unix":
        return str(options.path)
    return f"{options.host or options.default_host()}:{options.port}"


class ManagedSocket:
    """A named socket the kernel holds; children inherit it at ``fileno``."""

    def __init__(self, name: str, options: SocketOptions, sock: socket.socket) -> None:
        self.name = name
        self.sock = sock
        port = options.port
        if options.family != "unix":
            port = sock.getsockname()[1]
        self.requested_port = options.port
        self.options = replace(options, port=port)
        self.real_path: str | None = None  # unix: the canonical path (set by the registry)
        self.inherited = False  # held from --socket-fd, not yet claimed by a make socket

    @property
    def fileno(self) -> int:
        """The kernel's fd number (children inherit the socket at the same number)."""
        return self.sock.fileno()

    @property
    def port(self) -> int:
        """The bound port (0 for unix sockets)."""
        return self.options.port

    def same_as(self, requested: SocketOptions) -> bool:
        """True if a repeated ``make socket`` with ``requested`` asks for this very socket."""
        if requested.systemd or self.options.systemd:
            return requested.systemd == self.options.systemd
        if requested.port not in (0, self.port):
            return False
        if self.inherited:
            return self._claim(requested)
        return replace(requested, port=self.port, replace=self.options.replace) == self.options

    def _claim(self, requested: SocketOptions) -> bool:
        """An inherited socket is claimed by a request for its address; the request's options
        (backlog included) apply from now on."""
        opts = self.options
        if (requested.family, requested.type) != (opts.family, opts.type):
            return False
        if opts.family == "unix":
            if canonical_path(requested.path or "") != canonical_path(opts.path or ""):
                return False
        else:
            host = requested.host or requested.default_host()
            try:
                infos = socket.getaddrinfo(host, self.port, self.sock.family, self.sock.type)
            except socket.gaierror:
                return False
            if infos[0][4][0] != self.sock.getsockname()[0]:
                return False
        if requested.type in LISTENING_TYPES and not requested.reuseport:
            self.sock.listen(requested.backlog)
        self.options = replace(requested, port=self.port)
        self.inherited = False
        return True

    def copy_for_child(self) -> socket.socket:
        """A socket for one child: a fresh bound copy for reuseport sockets, else ourselves.

        The caller closes a fresh copy after the spawn (the child keeps its own).
        """
        if self.options.reuseport:
            return bind_socket(self.options)
        return self.sock

    def describe(self) -> str:
        """The list line: fixed field order, absent fields left out (papa 1.0.6 format)."""
        opts = self.options
        parts = [self.name, f"family={opts.family}", f"type={opts.type}", f"backlog={opts.backlog}"]
        if opts.family == "unix":
            parts.append(f"path={opts.path}")
            if opts.umask is not None:
                parts.append(f"umask={opts.umask}")
        else:
            parts.append(f"host={opts.host or opts.default_host()}")
            parts.append(f"port={opts.port}")
            if opts.interface:
                parts.append(f"interface={opts.interface}")
            if opts.reuseport:
                parts.append("reuseport=1")
        if opts.systemd:
            parts.append(f"systemd={opts.systemd}")
        if not opts.reuseport:  # the reuseport holder is not what children get: no fileno
            parts.append(f"fileno={self.fileno}")
        return " ".join(parts)

    def close(self) -> None:
        """Close the kernel's copy; unlink the unix path if it is still ours."""
        if self.options.family == "unix" and self.options.path:
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(os.lstat(self.options.path).st_mode):
                    os.unlink(self.options.path)
        self.sock.close()


def canonical_path(path: str) -> str:
    """``path`` with symlinks, ``.`` and ``..`` resolved (two spellings of one file are equal)."""
    return os.path.realpath(path)


class SocketRegistry:
    """Name -> ManagedSocket. Duplicates with different options are an error.

    Unix paths are compared after :func:`canonical_path`, so no spelling of a path that the
    kernel already serves (a hosted socket, or one of :attr:`reserved`, the kernel's own control
    socket) can be bound again: binding would unlink the served file and ``remove sockets``
    would then leave the kernel alive but unreachable.
    """

    def __init__(self) -> None:
        self.by_name: dict[str, ManagedSocket] = {}
        self.reserved: dict[str, str] = {}  # canonical path -> what the kernel serves there
        #: sockets systemd passed (FileDescriptorName -> socket) not taken by a make socket
        self.activated: dict[str, socket.socket] = {}

    def reserve(self, path: str, what: str) -> None:
        """Refuse every future ``make socket`` at ``path`` (``what`` names it in the error)."""
        self.reserved[canonical_path(path)] = what

    def make(self, name: str, options: SocketOptions) -> ManagedSocket:
        """Return the existing identical socket, or bind a new one."""
        existing = self.by_name.get(name)
        if existing is not None:
            if existing.same_as(options):
                return existing
            raise ConflictError(
                f"Socket for {name} has already been created - {existing.describe()}"
            )
        if options.systemd is not None:
            return self._take_activated(name, options.systemd)
        real_path = self._check_path_free(options.path) if options.family == "unix" else None
        # A reuseport socket is held bound but not listening: it reserves the port only.
        sock = bind_socket(options, listen=not options.reuseport)
        managed = ManagedSocket(name, options, sock)
        managed.real_path = real_path
        self.by_name[name] = managed
        return managed

    def _check_path_free(self, path: str | None) -> str:
        """The canonical form of ``path``; ConflictError if the kernel already serves it."""
        real_path = canonical_path(path or "")
        what = self.reserved.get(real_path)
        if what is not None:
            raise ConflictError(
                f"Socket path {path} is {what} ({real_path}); refusing to replace it, "
                "choose another path"
            )
        for other in self.by_name.values():
            if other.real_path == real_path:
                raise ConflictError(
                    f"Socket for {path} has already been created ({other.name}: {real_path})"
                )
        return real_path

    def adopt(self, name: str, sock: socket.socket) -> ManagedSocket:
        """Hold an inherited socket under ``name`` (see the module docstring)."""
        if name in self.by_name:
            raise ConflictError(f"Socket {name} is given twice")
        managed = self._hold(name, sock, options_of(name, sock))
        managed.inherited = True
        return managed

    def _hold(self, name: str, sock: socket.socket, options: SocketOptions) -> ManagedSocket:
        real_path = self._check_path_free(options.path) if options.family == "unix" else None
        sock.setblocking(True)
        managed = ManagedSocket(name, options, sock)
        managed.real_path = real_path
        self.by_name[name] = managed
        return managed

    def _take_activated(self, name: str, fdname: str) -> ManagedSocket:
        """``make socket NAME systemd=FDNAME``: hold the socket systemd passed as FDNAME."""
        sock = self.activated.get(fdname)
        if sock is None:
            taken = [m.name for m in self.by_name.values() if m.options.systemd == fdname]
            passed = ", ".join(sorted(self.activated)) or "none"
            if taken:
                raise ConflictError(f'systemd socket "{fdname}" is already held as {taken[0]}')
            raise SocketError(f'systemd passed no socket named "{fdname}" to the kernel (left '
                              f"unclaimed: {passed}); check FileDescriptorName= in the .socket "
                              "unit and Sockets= of papa-kernel.service")  # fmt: skip
        options = replace(options_of(name, sock), systemd=fdname)
        managed = self._hold(name, sock, options)
        del self.activated[fdname]
        return managed

    def get(self, name: str) -> ManagedSocket | None:
        """The socket called ``name``, if any."""
        return self.by_name.get(name)

    def remove(self, name: str) -> None:
        """Close and forget one socket. One systemd passed goes back to the pool, still open
        (systemd owns it; a later ``make socket ... systemd=`` takes it again)."""
        managed = self.by_name.pop(name)
        if managed.options.systemd:
            self.activated[managed.options.systemd] = managed.sock
        else:
            managed.close()

    def close_all(self, unlink: bool = True) -> None:
        """Close every socket (at kernel exit). The files of systemd's sockets stay."""
        for managed in self.by_name.values():
            if unlink and not managed.options.systemd:
                managed.close()
            else:
                managed.sock.close()
        self.by_name.clear()
        for sock in self.activated.values():
            sock.close()
        self.activated.clear()


def options_of(name: str, sock: socket.socket) -> SocketOptions:
    """The options of a socket someone else bound (read from the socket itself)."""
    family = {v: k for k, v in FAMILIES.items()}.get(sock.family)
    sock_type = {v: k for k, v in TYPES.items()}.get(sock.type)
    if family is None or sock_type is None:
        raise SocketError(f"Socket {name}: unsupported family or type ({sock})")
    address = sock.getsockname()
    if family == "unix":
        return SocketOptions(family=family, type=sock_type, path=address)
    reuseport = bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT))
    return SocketOptions(family=family, type=sock_type, host=address[0], port=address[1],
                         reuseport=reuseport)  # fmt: skip
