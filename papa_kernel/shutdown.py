"""Stopping everything the kernel hosts, gracefully, then exiting (``--graceful-stop`` and
``--init``).

Why the kernel does this (it holds no policy otherwise): under systemd, stopping
``papa-kernel.service`` is the one way to stop every worker, and by then circusd has already
been stopped (its unit is ordered after the kernel's, so it stops first) and kept its workers
running. In a container, ``docker stop`` signals PID 1 only. Either way nobody else is left to
stop the workers, and systemd/docker would SIGKILL them after their own timeout.

What it does, once SIGTERM (or SIGINT) arrives:

1. ``STOPPING=1`` to systemd; ``make process`` is refused from now on (circusd, if still
   there, would respawn what is being stopped);
2. to the process group of every running hosted process (each leads its own group, so a
   worker's children get it too) its stop signal: ``stop_signal=`` of its ``make process``
   (circusd passes the watcher's ``stop_signal``), SIGTERM by default;
3. when the last one has exited (an event from the reaper, no polling), the kernel exits 0;
4. after ``timeout`` seconds, SIGKILL to the groups still running; the kernel exits 2
   (:data:`EXIT_KILLED`) once they are reaped, or after :data:`KILL_WAIT` at the latest.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from papa_kernel import klog
from papa_kernel.kernel import Kernel
from papa_kernel.loop import Loop
from papa_kernel.typenames import Protocol

log = klog.get(__name__)

EXIT_STOPPED = 0  # every hosted process exited within the grace period
EXIT_KILLED = 2  # some had to be SIGKILLed when the grace period ran out
KILL_WAIT = 5.0  # after SIGKILL, seconds to wait for the exits (a process stuck in D state)


class Others(Protocol):
    """Processes to stop besides the hosted ones (``--init``: the main command, orphans)."""

    def count(self) -> int:
        """How many are still running."""
        ...

    def signal(self, signum: int) -> None:
        """Send them ``signum``."""
        ...


class _Nobody:
    def count(self) -> int:
        return 0

    def signal(self, signum: int) -> None:
        pass


class GracefulStop:
    """One stop of everything; ``done(exit_code)`` is called once, from the loop."""

    def __init__(
        self,
        kernel: Kernel,
        loop: Loop,
        timeout: float,
        done: Callable[[int], None],
        others: Others | None = None,
    ) -> None:
        self.kernel = kernel
        self.loop = loop
        self.timeout = timeout
        self._done = done
        self.others: Others = others or _Nobody()
        self.started: float | None = None
        self.killed = False
        self.finished = False

    @property
    def active(self) -> bool:
        """True from the signal until the kernel exits."""
        return self.started is not None

    def remaining(self) -> int:
        """Processes still to wait for."""
        return self.kernel.running_count() + self.others.count()

    def start(self, reason: str) -> None:
        """Signal every hosted process group (and the others); finish now if none runs."""
        if self.started is not None:
            log.info("%s: already stopping", reason)
            return
        self.started = time.monotonic()
        self.kernel.stopping = True
        running = [entry for entry in self.kernel.processes.values() if entry.running]
        log.info(
            "%s: stopping %d hosted processes (SIGKILL after %.0f s)",
            reason,
            len(running),
            self.timeout,
        )
        self.others.signal(signal.SIGTERM)
        for entry in running:  # its own stop signal (make process stop_signal=), else SIGTERM
            self.kernel.send_signal(entry, entry.stop_signal, group=True)
        self.kernel.on_exit = self.check
        self.loop.call_later(self.timeout, self._expire)
        self.check()

    def check(self) -> None:
        """A process exited: finish when none is left."""
        if self.active and not self.finished and self.remaining() == 0:
            self._finish(EXIT_KILLED if self.killed else EXIT_STOPPED)

    def _expire(self) -> None:
        if self.finished:
            return
        if self.killed:  # KILL_WAIT after the SIGKILLs: leave anyway
            log.error("%d processes did not exit after SIGKILL; exiting", self.remaining())
            self._finish(EXIT_KILLED)
            return
        self.killed = True
        left = [entry for entry in self.kernel.processes.values() if entry.running]
        log.warning(
            "grace period of %.0f s over: SIGKILL to %s",
            self.timeout,
            ", ".join(f"{e.name} (pid {e.pid})" for e in left) or "the remaining processes",
        )
        for entry in left:
            self.kernel.send_signal(entry, signal.SIGKILL, group=True)
        self.others.signal(signal.SIGKILL)
        self.loop.call_later(KILL_WAIT, self._expire)
        self.check()

    def _finish(self, code: int) -> None:
        self.finished = True
        elapsed = time.monotonic() - (self.started or time.monotonic())
        # The exit status itself is logged once, by the CLI: --init may replace this one with
        # the main command's.
        how = "some had to be killed" if code == EXIT_KILLED else "all in time"
        log.info("everything stopped in %.2f s (%s)", elapsed, how)
        self._done(code)
