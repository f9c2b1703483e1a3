"""The kernel's state and its reactions to events: processes, pipes, exits, sockets, values.

Rationale for reaping: each child gets a pidfd right after the spawn; the pidfd becomes readable
once the child has exited, and only then does the kernel ``waitpid`` that one pid, so a pid can
never be reused while the kernel still holds an entry for it (signals go through the pidfd too).
Where pidfd_open is unavailable, SIGCHLD wakes the loop (see :mod:`papa_kernel.loop`) and a
``waitpid(-1, WNOHANG)`` loop reaps every exited child, quietly ignoring strangers.

A ``closed`` record is queued only after the exited child's pipes were drained of what was
already written, so watchers always see a process's output before its exit. A pipe still held
open by a grandchild keeps being read after that.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
from collections.abc import Callable, Hashable

from papa_kernel import klog
from papa_kernel.loop import EVENT_READ, FdCall, Loop
from papa_kernel.output import OutputStream
from papa_kernel.processes import EntryWatcher, ProcessEntry, State
from papa_kernel.protocol import matches_any
from papa_kernel.sockets import ManagedSocket, SocketRegistry
from papa_kernel.spawn import Spawned
from papa_kernel.typenames import Protocol

log = klog.get(__name__)

DEFAULT_BUFSIZE = 2 * 1024 * 1024  # per stream, as the Circus manual promises
DRAIN_READS = 64  # reads of an exited child's pipe before its closed record is queued anyway
#: What one pipe read costs the loop's bulk budget at least (bytes): a read has a fixed cost
#: of system call and record, so 1000 pipes with a line each cannot hold a round either.
READ_COST = 32 * 1024
UNKNOWN_STATUS = 255 << 8  # waitpid status used if a child was reaped behind our back


class SocketWaiter(Protocol):
    """What the kernel needs from a watch of sockets (:class:`papa_kernel.watch.SocketWatch`)."""

    def fire(self, name: str) -> None: ...

    def forget(self, name: str) -> None: ...


class Kernel:
    """Everything the kernel hosts, and the event handlers that keep it current."""

    def __init__(self, loop: Loop, use_pidfd: bool = True) -> None:
        self.loop = loop
        self.use_pidfd = use_pidfd and hasattr(os, "pidfd_open")
        self.processes: dict[str, ProcessEntry] = {}
        self.by_pid: dict[int, ProcessEntry] = {}
        self.sockets = SocketRegistry()
        self.values: dict[str, str] = {}
        self.process_watches: set[EntryWatcher] = set()
        self.socket_waiters: dict[int, tuple[ManagedSocket, set[SocketWaiter]]] = {}
        self._sigchld_installed = False
        # the fd handlers' functions, made once (see papa_kernel.loop.FdCall)
        self._pipe_ready = self._on_pipe
        self._pidfd_ready = self._on_pidfd
        #: set by a graceful stop (papa_kernel.shutdown): ``make process`` is refused
        self.stopping = False
        #: called after each exit of a hosted process (a graceful stop waits for the last)
        self.on_exit: Callable[[], None] | None = None
        #: called with (pid, status) for a reaped child that is no hosted process (--init)
        self.on_stranger: Callable[[int, int], None] | None = None
        # An inherited SIG_IGN for SIGCHLD would make the OS reap our children for us.
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if not self.use_pidfd:
            self._install_sigchld()

    def reap_strangers(self) -> None:
        """Reap every child, hosted or not (``--init``: orphans are re-parented to PID 1); the
        others go to :attr:`on_stranger`. Hosted ones keep their pidfds: whichever path sees
        the exit first reports it."""
        self._install_sigchld()

    def _install_sigchld(self) -> None:
        """Switch on the SIGCHLD reaper (fallback when a pidfd cannot be had)."""
        if not self._sigchld_installed:
            self._sigchld_installed = True
            self.loop.add_signal_handler(signal.SIGCHLD, self._on_sigchld)
            self._on_sigchld(signal.SIGCHLD)  # a child may have exited before the handler

    # -- hosting ---------------------------------------------------------------------------
    def host(
        self,
        name: str,
        spawned: Spawned,
        args_text: str,
        identity: Hashable,
        capacity: int,
        shown_options: tuple[str, ...] = (),
    ) -> ProcessEntry:
        """Take a freshly spawned child under the kernel's care."""
        entry = ProcessEntry(name, spawned, args_text, identity, capacity, shown_options)
        self.processes[name] = entry
        self.by_pid[entry.pid] = entry
        for stream in entry.streams:
            self._register_pipe(entry, stream)
        if entry.pidfd is not None:
            self.loop.register(entry.pidfd, EVENT_READ, FdCall(self._pidfd_ready, entry))
        else:
            self._install_sigchld()  # pidfd_open failed (old OS): reap on SIGCHLD
        for watch in list(self.process_watches):
            if watch.follow and matches_any(name, watch.patterns):
                watch.attach(entry)
        return entry

    def _register_pipe(self, entry: ProcessEntry, stream: OutputStream) -> None:
        stream.paused = False
        self.loop.register(
            stream.fd,  # type: ignore[arg-type]
            EVENT_READ,
            FdCall(self._pipe_ready, entry, stream),
            bulk=True,  # output reads come after commands, within a budget per round
        )

    def _on_pipe(self, entry: ProcessEntry, stream: OutputStream) -> None:
        if stream.fd is None or stream.paused:
            return  # a stale event of this round: the pipe was closed or paused meanwhile
        count = stream.read(time.time())
        self.loop.bulk_budget -= max(count, READ_COST)
        if count < 0:
            self._close_stream(stream)
            self._maybe_finish(entry)
        elif count:
            self._took(entry, stream)

    def _took(self, entry: ProcessEntry, stream: OutputStream) -> None:
        """Bytes were added to ``stream``: enforce the bound, tell the watchers."""
        if entry.removed:
            stream.discard()
            return
        if stream.full:
            if self._watched(entry, stream):
                self._pause(stream)  # back-pressure: the child blocks, nothing is lost
            else:
                stream.drop_overflow()  # nobody watches: keep the child running
        for watch in entry.watchers:
            watch.mark(entry)

    def _pause(self, stream: OutputStream) -> None:
        if not stream.paused and stream.fd is not None:
            self.loop.unregister(stream.fd)
            stream.paused = True

    def _close_stream(self, stream: OutputStream) -> None:
        if stream.fd is not None:
            self.loop.unregister(stream.fd)
            stream.close()
        stream.paused = False

    @staticmethod
    def _watched(entry: ProcessEntry, stream: OutputStream) -> bool:
        """True if a watcher takes ``stream`` (one that holds it does not: see watch.py)."""
        return any(not watch.holds(entry, stream.kind) for watch in entry.watchers)

    def room_freed(self, entry: ProcessEntry, stream: OutputStream) -> None:
        """An acknowledgement emptied part of ``stream``: resume reading if it was paused."""
        watched = self._watched(entry, stream)
        if stream.paused and stream.fd is not None and (not stream.full or not watched):
            self._register_pipe(entry, stream)
            self._maybe_finish(entry)

    def hold_started(self, entry: ProcessEntry, stream: OutputStream) -> None:
        """A watcher holds ``stream``: if nobody else takes it, bound it as an unwatched one
        (drop the oldest beyond capacity, keep reading) so the child never blocks."""
        if not self._watched(entry, stream):
            stream.drop_overflow()
            self.room_freed(entry, stream)

    def hold_ended(self, entry: ProcessEntry, stream: OutputStream) -> None:
        """A hold was released: a full buffer pauses the pipe again while it is sent."""
        if stream.full and stream.fd is not None and self._watched(entry, stream):
            self._pause(stream)

    def watcher_left(self, entry: ProcessEntry) -> None:
        """A watcher detached without acknowledging: without watchers, never pause."""
        if not entry.watchers:
            for stream in entry.streams:
                self.room_freed(entry, stream)

    # -- exits -----------------------------------------------------------------------------
    def _on_pidfd(self, entry: ProcessEntry, _unused: None = None) -> None:
        if entry.pidfd is None:
            return  # already reaped (by the SIGCHLD fallback) earlier in this round
        try:
            pid, status = os.waitpid(entry.pid, os.WNOHANG)
        except ChildProcessError:
            log.error("%s (pid %d) was reaped by someone else", entry.name, entry.pid)
            pid, status = entry.pid, UNKNOWN_STATUS
        if pid == 0:
            return  # not exited after all
        self._exited(entry, status)

    def _on_sigchld(self, _signum: int) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            entry = self.by_pid.get(pid)
            if entry is not None:
                self._exited(entry, status)
            elif self.on_stranger is not None:
                self.on_stranger(pid, status)

    def _exited(self, entry: ProcessEntry, status: int) -> None:
        if entry.pidfd is not None:
            self.loop.unregister(entry.pidfd)
            entry.close_pidfd()
        self.by_pid.pop(entry.pid, None)
        entry.record_exit(status)  # RUNNING -> EXITED
        log.info("process %s pid=%d exited with %s", entry.name, entry.pid, entry.exit_code)
        self._maybe_finish(entry)
        if self.on_exit is not None:
            self.on_exit()

    def _maybe_finish(self, entry: ProcessEntry) -> None:
        """EXITED -> FINISHED once the pipes hold nothing the child wrote before exiting."""
        if entry.state is not State.EXITED:
            return
        for stream in entry.open_streams():
            if stream.paused or not self._drain(entry, stream):
                return  # back-pressure: finish when the watcher makes room
        if entry.removed:
            self._forget(entry)
            return
        entry.queue_closed()
        for watch in entry.watchers:
            watch.mark(entry)

    def _drain(self, entry: ProcessEntry, stream: OutputStream) -> bool:
        """Read what is buffered in an exited child's pipe; False if back-pressure stopped it."""
        for _ in range(DRAIN_READS):
            count = stream.read(time.time())
            if count < 0:
                self._close_stream(stream)
                return True
            if count == 0:
                return True
            self._took(entry, stream)
            if stream.paused:
                return False
        return True

    # -- forgetting ------------------------------------------------------------------------
    def collect(self, entry: ProcessEntry) -> None:
        """A watcher acknowledged the closed record: the entry goes away."""
        if self.processes.get(entry.name) is entry:
            self._forget(entry)

    def remove(self, entry: ProcessEntry) -> None:
        """``remove processes``: forget now if finished, else discard output until it exits."""
        entry.removed = True
        for stream in entry.streams:
            stream.discard()
            self.room_freed(entry, stream)
        for watch in list(entry.watchers):
            watch.detach(entry)
        if entry.state is State.FINISHED:
            self._forget(entry)
        else:
            self._maybe_finish(entry)

    def _forget(self, entry: ProcessEntry) -> None:
        if self.processes.get(entry.name) is entry:
            del self.processes[entry.name]
        for stream in entry.streams:
            self._close_stream(stream)
            stream.discard()
        for watch in list(entry.watchers):
            watch.detach(entry)

    # -- signals ---------------------------------------------------------------------------
    def send_signal(self, entry: ProcessEntry, signum: int, group: bool) -> bool:
        """Signal a running process (through its pidfd) or its group. False if it has exited."""
        if not entry.running:
            return False
        try:
            if group:
                os.killpg(entry.pid, signum)  # the child leads its own session and group
            elif entry.pidfd is not None:
                signal.pidfd_send_signal(entry.pidfd, signum)
            else:
                os.kill(entry.pid, signum)  # unreaped, so the pid cannot have been reused
        except ProcessLookupError:
            return False  # exiting right now: the reaper will report it
        return True

    # -- sockets ---------------------------------------------------------------------------
    def watch_sockets(self, watch: SocketWaiter, sockets: list[ManagedSocket]) -> None:
        """Tell ``watch`` when each socket becomes readable (once)."""
        for managed in sockets:
            fd = managed.fileno
            if fd not in self.socket_waiters:
                self.socket_waiters[fd] = (managed, set())
                self.loop.register(fd, EVENT_READ, functools.partial(self._ready, fd))
            self.socket_waiters[fd][1].add(watch)

    def _ready(self, fd: int, _mask: int) -> None:
        self._socket_ready(fd)

    def _socket_ready(self, fd: int) -> None:
        if fd not in self.socket_waiters:
            return  # the watch ended earlier in this round
        managed, watches = self.socket_waiters.pop(fd)
        self.loop.unregister(fd)
        for watch in list(watches):
            watch.fire(managed.name)

    def socket_watch_ended(self, watch: SocketWaiter) -> None:
        """Drop ``watch`` from every socket it waited on."""
        for fd, (_managed, watches) in list(self.socket_waiters.items()):
            watches.discard(watch)
            if not watches:
                del self.socket_waiters[fd]
                self.loop.unregister(fd)

    def remove_socket(self, name: str) -> None:
        """Close the kernel's copy of a socket; socket watches stop waiting for it."""
        managed = self.sockets.by_name[name]
        waiting = self.socket_waiters.pop(managed.fileno, None)
        if waiting is not None:
            self.loop.unregister(managed.fileno)
            for watch in list(waiting[1]):
                watch.forget(name)
        self.sockets.remove(name)

    # -- whole kernel ----------------------------------------------------------------------
    def running_count(self) -> int:
        """How many hosted children are still alive."""
        return sum(1 for entry in self.processes.values() if entry.running)

    def idle(self) -> bool:
        """Nothing hosted: no processes (even exited ones), sockets or values."""
        return not self.processes and not self.sockets.by_name and not self.values

    def shutdown(self) -> None:
        """Release every fd. Children keep running; their unix socket files stay if they do."""
        alive = self.running_count()
        for entry in list(self.processes.values()):
            for stream in entry.streams:
                self._close_stream(stream)
            if entry.pidfd is not None:
                self.loop.unregister(entry.pidfd)
                entry.close_pidfd()
        with contextlib.suppress(OSError):
            self.sockets.close_all(unlink=alive == 0)
