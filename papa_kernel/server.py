"""Listening endpoints, client sessions and the kernel's own lifecycle.

Security rules (DESIGN.md): the unix socket is created mode 0600; a socket path that another
live kernel (or any server) answers on is never taken over, and a lock file next to it
(``PATH.lock``, ``flock``) makes two kernels starting at once agree on one winner; a stale
socket file (nobody answering) is replaced. TCP is opt-in and only on loopback addresses. The
socket file is removed on exit.

SIGTERM/SIGINT stop the kernel only when it hosts no running process, unless ``force`` is set:
an accidental ``kill`` must not orphan every worker's output. With ``graceful_stop`` (systemd's
papa-kernel.service, ``--init``) they stop every hosted process first (:mod:`papa_kernel.shutdown`).
SIGHUP is ignored (a daemon).

systemd (:mod:`papa_kernel.sdnotify`): ``READY=1`` once the endpoints listen and the inherited
sockets are held, ``STATUS=`` with the counts (refreshed with each watchdog ping),
``STOPPING=1``, ``WATCHDOG=1`` from the loop. A socket passed by systemd under the name
``control`` (:data:`CONTROL_FDNAME`) is the kernel's own endpoint: it is used instead of
binding one, and its file is left in place on exit (systemd owns it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import stat
from collections.abc import Callable

from papa_kernel import klog, paths
from papa_kernel.connection import Connection
from papa_kernel.kernel import Kernel
from papa_kernel.loop import EVENT_READ, Loop
from papa_kernel.sdnotify import Notifier
from papa_kernel.typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from papa_kernel.shutdown import GracefulStop

log = klog.get(__name__)

SOCKET_MODE = 0o600
ACCEPTS_PER_ROUND = 64
CLIENT_SNDBUF = 1024 * 1024  # larger socket buffer: fewer wake-ups for big watch batches
CONTROL_FDNAME = "control"  # FileDescriptorName= of a socket-activated kernel endpoint


class StartupError(Exception):
    """The kernel cannot start (socket served, not loopback, permission...)."""


class Server:
    """Accepts clients on the configured endpoints and runs the loop."""

    def __init__(
        self,
        force: bool = False,
        use_pidfd: bool = True,
        graceful_stop: float | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.loop = Loop()
        self.kernel = Kernel(self.loop, use_pidfd=use_pidfd)
        self.force = force
        self.notifier = notifier or Notifier()
        self.exit_code = 0
        self.graceful: GracefulStop | None = None
        if graceful_stop is not None:  # only then: papa_kernel.shutdown is loaded on demand
            from papa_kernel.shutdown import GracefulStop

            self.graceful = GracefulStop(self.kernel, self.loop, graceful_stop, self._stopped)
        #: the kernel's exit status after a graceful stop, from the stop's (--init replaces it)
        self.final_exit_code: Callable[[int], int] = lambda code: code
        self._status = ""
        self._unix_owned = True  # False: systemd passed the endpoint, its file is not ours
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

    def adopt_unix(self, sock: socket.socket) -> str:
        """Serve on a listening unix socket systemd passed (socket activation); its path."""
        if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
            sock.close()
            raise StartupError(f'the socket systemd passed as "{CONTROL_FDNAME}" is not a unix '
                               "stream socket (ListenStream=/ABSOLUTE/PATH)")  # fmt: skip
        path = sock.getsockname()
        if not isinstance(path, str) or not path.startswith("/"):
            sock.close()
            raise StartupError(f'the socket systemd passed as "{CONTROL_FDNAME}" has no file '
                               f"path ({path!r})")  # fmt: skip
        self._lock(path)
        self.unix_path = path
        self._unix_owned = False
        self.kernel.sockets.reserve(path, "the kernel's own control socket")
        self._add_listener(sock)
        return path

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
        import ipaddress  # here: TCP is opt-in, and every start would pay for it (~0.3 MB)

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
        self.loop.register(sock.fileno(), EVENT_READ, lambda _m: self._accept(sock))

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
    def serving(self, ready_line: str) -> None:
        """Everything listens: tell systemd (READY=1) and start the watchdog pings."""
        self.notifier.ready(self._status_text())
        interval = self.notifier.watchdog_interval
        if interval is not None and self.notifier.enabled:
            self.loop.every(interval, self._watchdog)

    def _status_text(self) -> str:
        kernel = self.kernel
        self._status = (f"serving {self.unix_path}: {kernel.running_count()} processes running, "
                        f"{len(kernel.sockets.by_name)} sockets")  # fmt: skip
        return self._status

    def _watchdog(self) -> None:
        """From the loop: proves that it turns. The status follows at the same pace."""
        stopping = self.graceful is not None and self.graceful.active
        previous = self._status
        if not stopping and self._status_text() != previous:
            self.notifier.status(self._status)
        self.notifier.watchdog()

    def run(self) -> None:
        """Serve until stopped, then release everything."""
        try:
            self.loop.run()
        finally:
            self.notifier.stopping()
            self.close()

    def stop(self) -> None:
        """Leave the loop after the current round."""
        self.loop.stop()

    def _on_terminate(self, signum: int) -> None:
        if self.graceful is not None:
            running = self.kernel.running_count()
            self.notifier.stopping(f"stopping {running} processes")
            self.graceful.start(signal.Signals(signum).name)
            return
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

    def _stopped(self, exit_code: int) -> None:
        """The graceful stop is over."""
        self.exit_code = self.final_exit_code(exit_code)
        self.stop()

    def close(self) -> None:
        """Close sessions, listeners, hosted fds; remove our socket file and pid state."""
        for connection in list(self.connections):
            connection.close()
        for sock in self.listeners:
            self.loop.unregister(sock.fileno())
            sock.close()
        self.listeners.clear()
        if self.unix_path and self._unix_inode and self._unix_owned:
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
