"""LocalHost: processes as direct children of circusd, on the running asyncio loop.

Used for ``use_papa = false`` watchers and support processes (DESIGN.md). The children die with
circusd's management of them: they are not persistent (``persistent = False``).

Rationale (one reaper, event-driven; STYLE.md 3):

- Right after a child starts, a pidfd is opened for it and registered with ``loop.add_reader``.
  It becomes readable when the child exits: the host then ``waitpid``\\ s that one pid and decodes
  the status once (exit code, or ``-signum``). Nothing polls, and no other pid is ever reaped.
- Signals go through ``signal.pidfd_send_signal``: a pid recycled after the child was reaped can
  never be hit. A child that has exited but is not reaped yet is reported as gone (False).
- stdout/stderr capture, back-pressure and delivery order: see :mod:`circus.hosts.local_output`.
- The exit record of a child is queued only after the pipes were drained of what was in them
  when it died, so a batch never shows an exit before that process's last output.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from circus.errors import HostError, SpawnError
from circus.hosts import local_sockets
from circus.hosts.base import (
    EventHandler,
    ExitRecord,
    HostEvent,
    ProcessHost,
    ProcessInfo,
    SocketInfo,
    SocketSpec,
    SpawnSpec,
)
from circus.hosts.local_output import CapturedStream, OutputPump
from circus.hosts.local_spawn import argv_text, start_child
from circus.hosts.placeholders import referenced_sockets, substitute_sockets
from papa_kernel.spawn import seal_inherited_fds

log = logging.getLogger(__name__)

DEFAULT_BUFSIZE = 2 * 1024 * 1024  # per stream, as the kernel and the Circus manual promise
CLOSE_KILL_TIMEOUT = 5.0  # seconds close() waits for SIGKILLed children to be reaped
# Reported when a child was reaped by foreign code (a stray waitpid(-1)): its status is lost.
UNKNOWN_EXIT_STATUS = 255 << 8


@dataclass(eq=False)
class _Child:
    name: str
    pid: int
    pidfd: int
    started: float
    args: str
    streams: list[CapturedStream] = field(default_factory=list)
    exit_code: int | None = None  # set once reaped
    exit_queued: bool = False
    forgotten: bool = False
    unread_at_exit: dict[CapturedStream, int] = field(default_factory=dict)

    def info(self) -> ProcessInfo:
        return ProcessInfo(
            self.name, self.pid, self.started, self.exit_code is None, self.exit_code, self.args
        )


class LocalHost(ProcessHost):
    """Runs processes as direct children of circusd. See the module docstring."""

    persistent = False

    def __init__(self, *, default_bufsize: int = DEFAULT_BUFSIZE):
        self._default_bufsize = default_bufsize
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pump: OutputPump | None = None
        self._children: dict[str, _Child] = {}
        self._unreaped: dict[int, _Child] = {}  # pidfd -> child, including forgotten ones
        self._sockets: dict[str, local_sockets.HeldSocket] = {}
        self._readable_waiters: dict[str, set[asyncio.Future[str]]] = {}
        self._all_reaped: asyncio.Event | None = None
        self._closing = False

    # -- lifecycle --------------------------------------------------------------------------------

    def _ensure_loop(self) -> OutputPump:
        if self._pump is None:
            sealed = seal_inherited_fds()  # before the first spawn: see open()
            if sealed:
                # DEBUG: make's jobserver fds reach every circusd started from a Makefile.
                log.debug(
                    "inherited fds %s marked close-on-exec: children will not get them", sealed
                )
            self._loop = asyncio.get_running_loop()
            self._pump = OutputPump(self._loop)
            self._pump.on_batch_taken = self._on_batch_taken
        return self._pump

    async def open(self, on_events: EventHandler) -> None:
        """Start delivering output and exits of every child to ``on_events``.

        Before its first spawn (or open) the host marks the fds circusd inherited from its own
        parent close-on-exec, so children get only their stdio and their sockets (see
        :func:`papa_kernel.spawn.seal_inherited_fds`).
        """
        self._closing = False
        self._ensure_loop().start(on_events)

    async def close(self, *, keep_children: bool = False) -> None:
        """Release everything: pipes, pidfds, sockets, the delivery task.

        Children still running are circusd's own: the arbiter stops them (gracefully) before it
        closes the host. Any still alive here are SIGKILLed with their process group (each child
        leads its own session) and reaped, so nothing is left behind,
        unless ``keep_children`` is true: then they keep running unsupervised (their captured
        stdout/stderr pipes are closed, so their next write there fails with EPIPE/SIGPIPE, and
        they stay zombies until circusd exits). Events not yet delivered are discarded.
        """
        self._closing = True
        pump = self._ensure_loop()
        await pump.stop()
        if not keep_children:
            await self._kill_all()
        for child in list(self._unreaped.values()):
            self._close_pidfd(child)
        pump.detach_all()
        self._children.clear()
        for waiters in self._readable_waiters.values():
            for waiter in waiters:
                waiter.cancel()
        for name in list(self._sockets):
            self._drop_socket(name)

    async def _kill_all(self) -> None:
        if not self._unreaped:
            return
        self._all_reaped = asyncio.Event()
        for child in list(self._unreaped.values()):
            # Unreaped, so its pid (and the process group it leads) cannot have been recycled.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(child.pidfd, signal.SIGKILL)
        try:
            async with asyncio.timeout(CLOSE_KILL_TIMEOUT):
                await self._all_reaped.wait()
        except TimeoutError:
            log.error(
                "children %s did not die within %ss of SIGKILL",
                [c.pid for c in self._unreaped.values()],
                CLOSE_KILL_TIMEOUT,
            )

    def _close_pidfd(self, child: _Child) -> None:
        if child.pidfd < 0:
            return
        assert self._loop is not None
        self._loop.remove_reader(child.pidfd)
        self._unreaped.pop(child.pidfd, None)
        os.close(child.pidfd)
        child.pidfd = -1

    # -- processes --------------------------------------------------------------------------------

    async def spawn(self, spec: SpawnSpec) -> ProcessInfo:
        """Start a child; SpawnError names what was wrong (executable, working_dir, socket...)."""
        pump = self._ensure_loop()
        assert self._loop is not None
        if self._closing:
            raise SpawnError(f"cannot spawn {spec.name}: the host is closed")
        if not spec.name:
            raise SpawnError("a process needs a name")
        if spec.name in self._children:
            raise SpawnError(f"process {spec.name} already exists")
        copies: list[int] = []  # per-child reuseport sockets: closed once the child has them
        try:
            argv, pass_fds, stdin = self._bind_child_sockets(spec, copies)
            spawned = start_child(spec, argv, pass_fds, stdin)
        finally:
            for copy in copies:
                os.close(copy)
        started = time.time()
        pidfd = spawned.pidfd if spawned.pidfd is not None else os.pidfd_open(spawned.pid)
        child = _Child(spec.name, spawned.pid, pidfd, started, argv_text(spec.argv))
        bound = self._default_bufsize if spec.bufsize is None else spec.bufsize
        for stream_name, fd in (("stdout", spawned.stdout), ("stderr", spawned.stderr)):
            if fd is not None:
                stream = CapturedStream(spec.name, stream_name, fd, max(bound, 1))
                child.streams.append(stream)
                pump.attach(stream)
        self._children[spec.name] = child
        self._unreaped[child.pidfd] = child
        self._loop.add_reader(child.pidfd, self._on_exit, child)
        return child.info()

    def _bind_child_sockets(
        self, spec: SpawnSpec, opened: list[int]
    ) -> tuple[tuple[str, ...], tuple[int, ...], int | None]:
        """Resolve the sockets a child inherits: (argv, pass_fds, stdin fd)."""
        names = list(dict.fromkeys([*spec.sockets, *referenced_sockets(spec.argv)]))
        if spec.stdin_socket is not None:
            names.append(spec.stdin_socket)
        fds: dict[str, int] = {}
        ports: dict[str, int | None] = {}
        for name in dict.fromkeys(names):
            held = self._sockets.get(name)
            if held is None:
                raise SpawnError(f"cannot spawn {spec.name}: unknown socket {name!r}")
            if held.listening:
                fds[name] = held.sock.fileno()
            else:
                copy = local_sockets.bind_reuseport_copy(held)
                opened.append(copy.detach())
                fds[name] = opened[-1]
            ports[name] = held.info.port
        argv = substitute_sockets(spec.argv, fds, ports, spec.name)
        stdin = None if spec.stdin_socket is None else fds[spec.stdin_socket]
        pass_fds = tuple(
            fds[name] for name in dict.fromkeys([*spec.sockets, *referenced_sockets(spec.argv)])
        )
        return argv, pass_fds, stdin

    def _on_exit(self, child: _Child) -> None:
        """The child's pidfd is readable: reap it and decode its status once."""
        try:
            pid, status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            log.error(
                "child %s (pid %d) was reaped by someone else; exit status unknown",
                child.name,
                child.pid,
            )
            pid, status = child.pid, UNKNOWN_EXIT_STATUS
        if pid == 0:
            return  # spurious wake-up: not exited yet
        child.exit_code = os.waitstatus_to_exitcode(status)
        self._close_pidfd(child)
        if self._all_reaped is not None and not self._unreaped:
            self._all_reaped.set()
        if child.forgotten or self._closing:
            return
        for stream in child.streams:
            if not stream.closed:
                child.unread_at_exit[stream] = _bytes_in_pipe(stream.fd)
        self._flush_exit(child)

    def _flush_exit(self, child: _Child) -> None:
        """Read what the dead child left in its pipes, then queue its exit record."""
        assert self._pump is not None
        for stream, left in list(child.unread_at_exit.items()):
            while left > 0:
                before = stream.queued
                result = self._pump.read_some(stream, limit=left)
                if result == "full":
                    child.unread_at_exit[stream] = left
                    return  # resumed after the next batch is taken
                if result != "data":
                    break
                left -= stream.queued - before
            del child.unread_at_exit[stream]
        child.exit_queued = True
        self._pump.queue(ExitRecord(child.name, time.time(), child.exit_code))

    def _on_batch_taken(self, batch: list[HostEvent]) -> None:
        for event in batch:
            if isinstance(event, ExitRecord):
                child = self._children.get(event.name)
                if child is not None and child.exit_queued:
                    # Reported: the name can be reused. A pipe still open (a grandchild kept
                    # it) is captured until EOF under the same name.
                    del self._children[event.name]
        for child in list(self._children.values()):
            if child.exit_code is not None and not child.exit_queued:
                self._flush_exit(child)

    async def signal(self, name: str, signum: int, *, group: bool = False) -> bool:
        """Send ``signum`` through the child's pidfd; False if it has exited. With ``group``,
        the whole process group the child leads (its own session) gets it."""
        child = self._children.get(name)
        if child is None or child.exit_code is not None or child.forgotten:
            return False
        try:
            if os.waitid(os.P_PIDFD, child.pidfd, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return False  # dead, reaper not run yet: it will report the exit
            if group:  # unreaped, so the group id cannot have been recycled
                os.killpg(child.pid, signum)
            else:
                signal.pidfd_send_signal(child.pidfd, signum)
        except ProcessLookupError:
            return False
        except (OSError, ValueError) as exc:
            raise HostError(f"cannot send signal {signum} to {name}: {exc}") from None
        return True

    async def list_processes(self, prefix: str = "") -> list[ProcessInfo]:
        """Children whose name starts with ``prefix``, running or exited-but-unreported."""
        return [c.info() for name, c in sorted(self._children.items()) if name.startswith(prefix)]

    async def forget(self, name: str) -> None:
        """Drop a child's record and queued output. A running child keeps running unwatched
        (its captured pipes are closed; it is still reaped quietly when it exits)."""
        child = self._children.pop(name, None)
        if child is None:
            return
        child.forgotten = True
        assert self._pump is not None
        for stream in child.streams:
            self._pump.detach(stream)
        self._pump.drop_queued(name)

    # -- sockets ----------------------------------------------------------------------------------

    async def make_socket(self, spec: SocketSpec) -> SocketInfo:
        """Bind and hold a socket; the same spec again returns the same socket."""
        held = self._sockets.get(spec.name)
        if held is not None:
            if held.spec == spec:
                return held.info
            raise HostError(f"socket {spec.name} already exists with different parameters")
        held = local_sockets.bind_socket(spec)
        self._sockets[spec.name] = held
        return held.info

    async def list_sockets(self, prefix: str = "") -> list[SocketInfo]:
        return [h.info for name, h in sorted(self._sockets.items()) if name.startswith(prefix)]

    async def remove_socket(self, name: str) -> None:
        """Close the host's copy (children keep theirs); unknown names are ignored."""
        self._drop_socket(name)

    def _drop_socket(self, name: str) -> None:
        held = self._sockets.pop(name, None)
        if held is None:
            return
        for waiter in self._readable_waiters.pop(name, ()):
            waiter.cancel()
        if self._loop is not None:
            self._loop.remove_reader(held.sock.fileno())
        held.close()

    async def wait_readable(self, names: Sequence[str]) -> str:
        """Wait until a listening socket has a pending connection/datagram; return its name."""
        self._ensure_loop()
        assert self._loop is not None
        if not names:
            raise HostError("wait_readable needs at least one socket name")
        for name in names:
            held = self._sockets.get(name)
            if held is None:
                raise HostError(f"unknown socket {name!r}")
            if not held.listening:
                raise HostError(f"socket {name} uses reuseport: the host has no listening copy")
        waiter: asyncio.Future[str] = self._loop.create_future()
        for name in names:
            self._add_readable_waiter(name, waiter)
        try:
            return await waiter
        finally:
            for name in names:
                self._remove_readable_waiter(name, waiter)

    def _add_readable_waiter(self, name: str, waiter: asyncio.Future[str]) -> None:
        assert self._loop is not None
        waiters = self._readable_waiters.setdefault(name, set())
        if not waiters:
            self._loop.add_reader(self._sockets[name].sock.fileno(), self._on_socket_readable, name)
        waiters.add(waiter)

    def _remove_readable_waiter(self, name: str, waiter: asyncio.Future[str]) -> None:
        waiters = self._readable_waiters.get(name)
        if waiters is None:
            return
        waiters.discard(waiter)
        if not waiters:
            del self._readable_waiters[name]
            held = self._sockets.get(name)
            if held is not None and self._loop is not None:
                self._loop.remove_reader(held.sock.fileno())

    def _on_socket_readable(self, name: str) -> None:
        for waiter in list(self._readable_waiters.get(name, ())):
            if not waiter.done():
                waiter.set_result(name)


def _bytes_in_pipe(fd: int) -> int:
    """How many bytes are waiting in a pipe (FIONREAD)."""
    buf = bytearray(4)
    try:
        fcntl.ioctl(fd, termios.FIONREAD, buf)
    except OSError:
        return 0
    return int.from_bytes(buf, "little")
