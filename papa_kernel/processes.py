"""Hosted processes: one :class:`ProcessEntry` per name, with its streams and exit record.

Lifecycle of an entry (every change goes through :meth:`ProcessEntry.transition`)::

    RUNNING -> EXITED      the pidfd became readable (or SIGCHLD) and waitpid decoded the status
    EXITED  -> FINISHED    the pipes were drained as far as possible: the ``closed`` record is
                           queued (after all output read so far, so watchers see it last)
    FINISHED -> (gone)     a watcher acknowledged the ``closed`` record, or ``remove processes``

A removed entry that is still running stays listed (as papa 1.0.6 did) but its output is read
and discarded (the child never gets SIGPIPE), and it vanishes silently when it exits.
"""

from __future__ import annotations

import enum
import os
import signal
import time
from collections.abc import Hashable

from papa_kernel.output import OutputStream, next_seq
from papa_kernel.protocol import format_time
from papa_kernel.spawn import Spawned
from papa_kernel.typenames import Protocol


class State(enum.Enum):
    """Where a process is in its life (see the module docstring)."""

    RUNNING = "running"
    EXITED = "exited"
    FINISHED = "finished"


LEGAL_TRANSITIONS = {
    State.RUNNING: {State.EXITED},
    State.EXITED: {State.FINISHED},
    State.FINISHED: set(),
}


class EntryWatcher(Protocol):
    """What the kernel needs from a watch of processes (:class:`papa_kernel.watch.ProcessWatch`).

    Declared here, below the kernel, so the kernel never imports the watch sessions above it.
    """

    follow: bool  # also attach processes created later that match ``patterns``
    patterns: list[str]

    def attach(self, entry: ProcessEntry) -> None: ...

    def detach(self, entry: ProcessEntry) -> None: ...

    def mark(self, entry: ProcessEntry) -> None: ...

    def holds(self, entry: ProcessEntry, kind: str) -> bool: ...


class ProcessEntry:
    """One hosted process: identity, pid/pidfd, streams, exit status, watchers."""

    # no per-instance dict: the kernel holds one entry per worker (10,000 of them at scale)
    __slots__ = (
        "args_text", "closed_seq", "exit_code", "exit_time", "identity",
        "name", "pid", "pidfd", "removed", "shown_options", "started", "state", "state_since",
        "stop_signal", "streams", "watchers",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        spawned: Spawned,
        args_text: str,
        identity: Hashable,
        capacity: int,
        shown_options: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.pid = spawned.pid
        self.pidfd = spawned.pidfd
        self.started = time.time()
        self.args_text = args_text  # the arguments as given (unsubstituted), for listings
        self.identity = identity  # what a repeated identical make process must match
        self.shown_options = shown_options  # e.g. ("uid=0", "shell=True")
        # a tuple (out first), not a dict by kind: 56 bytes for two streams instead of 184
        self.streams: tuple[OutputStream, ...] = tuple(
            OutputStream(kind, fd, capacity)
            for kind, fd in (("out", spawned.stdout), ("err", spawned.stderr))
            if fd is not None
        )
        self.state = State.RUNNING
        self.state_since = time.monotonic()
        self.exit_code: int | None = None
        self.exit_time = 0.0
        self.closed_seq: int | None = None  # sequence number of the queued closed record
        self.removed = False  # forgotten by a client: discard output, vanish at exit
        self.stop_signal: int = signal.SIGTERM  # a graceful stop of the kernel sends it
        # the watches attached to this entry (usually one: circusd's): a tuple, as a set of
        # one is 216 bytes, a tuple 56
        self.watchers: tuple[EntryWatcher, ...] = ()

    def add_watcher(self, watch: EntryWatcher) -> None:
        """Attach ``watch`` to this entry."""
        if watch not in self.watchers:
            self.watchers = (*self.watchers, watch)

    def discard_watcher(self, watch: EntryWatcher) -> None:
        """Detach ``watch`` (if attached)."""
        if watch in self.watchers:
            self.watchers = tuple(other for other in self.watchers if other is not watch)

    def transition(self, new: State) -> None:
        """The one place where ``state`` changes; refuses illegal moves."""
        if new not in LEGAL_TRANSITIONS[self.state]:
            raise RuntimeError(f"{self.name}: illegal transition {self.state} -> {new}")
        self.state = new
        self.state_since = time.monotonic()

    @property
    def running(self) -> bool:
        """True until the exit status was collected by the reaper."""
        return self.state is State.RUNNING

    def record_exit(self, status: int) -> None:
        """RUNNING -> EXITED with a raw waitpid status."""
        self.exit_code = os.waitstatus_to_exitcode(status)
        self.exit_time = time.time()
        self.transition(State.EXITED)

    def queue_closed(self) -> None:
        """EXITED -> FINISHED: the closed record goes after every chunk read so far."""
        self.closed_seq = next_seq()
        self.exit_time = time.time()  # now, so timestamps never go backwards in a batch
        self.transition(State.FINISHED)

    def describe(self, with_age: bool = False) -> str:
        """The ``list processes`` line (papa 1.0.6 fields, then extensions before ``args=``);
        ``with_age``: a running process's line also says how long it has run (``age=``)."""
        parts = [
            self.name,
            f"pid={self.pid}",
            f"running={self.running}",
            f"started={format_time(self.started)}",
            *self.shown_options,
        ]
        if self.exit_code is not None:
            parts.append(f"exit_code={self.exit_code}")
        for stream in self.streams:  # out, then err
            if stream.dropped_total:
                parts.append(f"dropped_{stream.kind}={stream.dropped_total}")
        if with_age and self.state is State.RUNNING:
            # RUNNING is an entry's first state: state_since is its spawn, on the monotonic
            # clock (a client on another machine cannot compare started= with its own clock)
            parts.append(f"age={time.monotonic() - self.state_since:.3f}")
        parts.append(f"args={self.args_text}")
        return " ".join(parts)

    def stream(self, kind: str) -> OutputStream | None:
        """The stream of ``kind`` (``out`` or ``err``), if it is captured."""
        for stream in self.streams:
            if stream.kind == kind:
                return stream
        return None

    def open_streams(self) -> list[OutputStream]:
        """Streams whose pipe is still open."""
        return [stream for stream in self.streams if stream.fd is not None]

    def close_pidfd(self) -> None:
        """Close the pidfd (idempotent)."""
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
