"""Listening endpoints, client sessions and the kernel's own lifecycle.

Security rules (DESIGN.md): the unix socket is created mode 0600; a socket path that another
live kernel (or any server) answers on is never taken over, and a lock file next to it
(``PATH.lock``, ``flock``) makes two kernels starting at once agree on one winner; a stale
socket file (nobody answering) is replaced. TCP is opt-in and only on loopback addresses. The
socket file is removed on exit.

SIGTERM/SIGINT stop the kernel only when it hosts no running process, unless ``force`` is set:
an accidental ``kill`` must not orphan every worker's output. SIGHUP is ignored (a daemon).
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import logging
import os
import selectors
import signal
import socket
import stat

from papa_kernel import paths
from papa_kernel.connection import Connection
from papa_kernel.kernel import Kernel
from papa_kernel.loop import Loop

log = logging.getLogger(__name__)

SOCKET_MODE = 0o600
ACCEPTS_PER_ROUND = 64
CLIENT_SNDBUF = 1024 * 1024  # larger socket buffer: fewer wake-ups for big watch batches


class StartupError(Exception):
    """The kernel cannot start (socket served, not loopback, permission...)."""


class Server:
    """Accepts clients on the configured endpoints and runs the loop."""

    def __init__(self, force: bool = False, use_pidfd: bool = True) -> None:
        self.loop = Loop()
        self.kernel = Kernel(self.loop, use_pidfd=use_pidfd)
        self.force = force
        self.listeners: list[socket.socket] = []
        self.connections: set[Connection] = set()
        self.unix_path: str | None = None
        self._unix_inode: tuple[int, int] | None = None
        self._lock_fd: int | None = None
        self.tcp_address: tuple[str, int] | None = None
        for signum in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(signum, self._on_terminate)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    # -- endpoints -------------------------------------------------------------------------
    def listen_unix(self, path: str) -> None:
        """Listen on a 0600 unix socket at ``path``, refusing to steal a served one."""
        path = os.path.abspath(path)
        self._lock(path)
        _refuse_if_served(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            sock.bind(path)
        except OSError as exc:
            sock.close()
            raise StartupError(f"cannot bind {path}: {exc.strerror}") from None
        finally:
            os.umask(old_umask)
        os.chmod(path, SOCKET_MODE)
        info = os.stat(path)
        self._unix_inode = (info.st_dev, info.st_ino)
        self.unix_path = path
        self.kernel.sockets.reserve(path, "the kernel's own control socket")
        self._add_listener(sock)

    def _lock(self, path: str) -> None:
        fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, SOCKET_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StartupError(f"another papa-kernel is serving {path}") from None
        self._lock_fd = fd

    def listen_tcp(self, host: str, port: int) -> tuple[str, int]:
        """Listen on loopback TCP; returns the bound (host, port)."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise StartupError(f'cannot resolve "{host}": {exc.strerror}') from None
        family, _type, _proto, _name, address = infos[0]
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise StartupError(f"refusing TCP on {host}: only loopback addresses are allowed")
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            sock.close()
            raise StartupError(f"cannot bind {host}:{port}: {exc.strerror}") from None
        self.tcp_address = sock.getsockname()[:2]
        self._add_listener(sock)
        return self.tcp_address

    def _add_listener(self, sock: socket.socket) -> None:
        sock.listen(128)
        sock.setblocking(False)
        self.listeners.append(sock)
        self.loop.register(sock.fileno(), selectors.EVENT_READ, lambda _m: self._accept(sock))

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(ACCEPTS_PER_ROUND):
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and friends: log, keep serving the others
                log.error("accept failed: %s", exc)
                return
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CLIENT_SNDBUF)
            peer = str(address) if address else "unix"
            self.connections.add(Connection(self, sock, peer))
            log.debug("client connected (%s)", peer)

    def connection_closed(self, connection: Connection) -> None:
        """A session ended."""
        self.connections.discard(connection)
        log.debug("client disconnected (%s)", connection.peer)

    # -- lifecycle -------------------------------------------------------------------------
    def run(self) -> None:
        """Serve until stopped, then release everything."""
        try:
            self.loop.run()
        finally:
            self.close()

    def stop(self) -> None:
        """Leave the loop after the current round."""
        self.loop.stop()

    def _on_terminate(self, signum: int) -> None:
        running = self.kernel.running_count()
        if running and not self.force:
            log.warning(
                "%s ignored: %d hosted processes are running (stop them first, or start the "
                "kernel with --force)",
                signal.Signals(signum).name,
                running,
            )
            return
        log.info("%s: exiting", signal.Signals(signum).name)
        self.stop()

    def close(self) -> None:
        """Close sessions, listeners, hosted fds; remove our socket file and pid state."""
        for connection in list(self.connections):
            connection.close()
        for sock in self.listeners:
            self.loop.unregister(sock.fileno())
            sock.close()
        self.listeners.clear()
        if self.unix_path and self._unix_inode:
            with contextlib.suppress(OSError):
                info = os.stat(self.unix_path)
                if (info.st_dev, info.st_ino) == self._unix_inode:
                    os.unlink(self.unix_path)
        self.kernel.shutdown()
        self.loop.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _refuse_if_served(path: str) -> None:
    """Replace a stale socket file; refuse a live one or anything that is not a socket."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise StartupError(f"{path} exists and is not a socket; refusing to replace it")
    if not paths.unix_socket_served(path):
        os.unlink(path)  # nobody answers: a stale file from a kernel that died
        return
    raise StartupError(f"{path} is already served by another process; refusing to take it over")
