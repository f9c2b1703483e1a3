"""``papa-kernel --init [-- COMMAND...]``: the kernel as PID 1 of a container.

Why the kernel can be init: it is already the parent of every worker and reaps them on events;
what an init adds is small, and a separate init (tini, dumb-init) would sit between the
container runtime and the kernel without knowing how to stop the workers gracefully.

What PID 1 must do, and how:

- **Reap every orphan.** A process whose parent dies is re-parented to PID 1 (or to the
  nearest child subreaper), and stays a zombie until PID 1 waits for it. The SIGCHLD reaper
  (``waitpid(-1, WNOHANG)``, :mod:`papa_kernel.kernel`) runs beside the pidfds: hosted
  processes are reported as usual, strangers come to :meth:`Init.reaped`.
- **Handle signals.** The Linux kernel delivers to PID 1 of a namespace only the signals it has
  handlers for, so SIGTERM/SIGINT (``docker stop``, Ctrl-C) are caught: they start the
  graceful stop of everything (:mod:`papa_kernel.shutdown`) with the main command and, as PID 1,
  every other process of the namespace (``kill(-1, ...)``) among the processes to stop.
  SIGHUP is forwarded to the main command (circusd reloads its configuration).
- **Start the main command** (circusd, usually) once the kernel listens: a plain child with
  the kernel's environment and stdio, not a hosted process. When it exits on its own, the
  kernel stops everything and exits with its status.

Exit status: after SIGTERM/SIGINT, 0 if everything stopped within the grace period, 2 if
something had to be SIGKILLed (:mod:`papa_kernel.shutdown`); after the main command ended on
its own, its exit status (128 + N if signal N killed it), everything else stopped first.
"""

from __future__ import annotations

import contextlib
import os
import signal

from papa_kernel import klog
from papa_kernel.errors import SpawnError
from papa_kernel.server import Server
from papa_kernel.shutdown import GracefulStop
from papa_kernel.spawn import SIGNALS_TO_DEFAULT, find_executable

log = klog.get(__name__)

SIGNAL_EXIT_BASE = 128  # a command killed by signal N exits 128 + N, as shells report it


class Init:
    """The PID-1 duties of a kernel started with ``--init``."""

    def __init__(self, server: Server, command: list[str]) -> None:
        self.server = server
        self.command = command
        self.main_pid: int | None = None
        self.main_status: int | None = None  # its exit status, once it has ended
        self.main_ended_first = False  # it ended (or failed to start) before any stop request
        self.is_pid1 = os.getpid() == 1

    def install(self, grace: float) -> None:
        """Reap strangers, stop everything gracefully on SIGTERM/SIGINT, forward SIGHUP."""
        server = self.server
        server.graceful = GracefulStop(server.kernel, server.loop, grace, server._stopped, self)
        server.final_exit_code = self.exit_code
        server.kernel.on_stranger = self.reaped
        server.kernel.reap_strangers()
        server.loop.add_signal_handler(signal.SIGHUP, self._forward)

    def start_main(self) -> None:
        """Start the main command (if any): the kernel listens, circusd can connect."""
        if not self.command:
            return
        env = dict(os.environ)
        try:
            path = find_executable(self.command[0], env)
            self.main_pid = os.posix_spawn(path, self.command, env, setsigdef=SIGNALS_TO_DEFAULT,
                                           setsigmask=())  # fmt: skip
        except (SpawnError, OSError) as exc:
            log.error("cannot start %s: %s", self.command[0], exc)
            self.main_status = 127  # the shell's "command not found"
            self.main_ended_first = True
            self._stop_all(f"main command {self.command[0]} did not start")
            return
        log.info("started %s (pid %d)", " ".join(self.command), self.main_pid)

    # -- GracefulStop's "others" ------------------------------------------------------------
    def count(self) -> int:
        """Children that are not hosted processes: the main command and adopted orphans."""
        hosted = self.server.kernel.by_pid
        return sum(1 for pid in _children() if pid not in hosted)

    def signal(self, signum: int) -> None:
        """As PID 1: every process of the namespace (the hosted ones get theirs by group too);
        otherwise the main command only (kill(-1) outside a namespace would hit the host)."""
        with contextlib.suppress(ProcessLookupError):
            if self.is_pid1:
                os.kill(-1, signum)
            elif self.main_pid is not None:
                os.kill(self.main_pid, signum)

    # -- events ------------------------------------------------------------------------------
    def reaped(self, pid: int, status: int) -> None:
        """A child that is no hosted process was reaped: an orphan, or the main command."""
        if pid == self.main_pid:
            self.main_pid = None
            code = os.waitstatus_to_exitcode(status)
            self.main_status = SIGNAL_EXIT_BASE - code if code < 0 else code
            log.info("main command exited with status %d", self.main_status)
            graceful = self.server.graceful
            if graceful is not None and not graceful.active:
                self.main_ended_first = True
                self._stop_all("main command exited")
        else:
            log.debug("reaped orphan pid %d (%s)", pid, status)
        if self.server.graceful is not None:
            self.server.graceful.check()

    def _stop_all(self, reason: str) -> None:
        graceful = self.server.graceful
        if graceful is not None:
            self.server.notifier.stopping(reason)
            graceful.start(reason)

    def _forward(self, signum: int) -> None:
        if self.main_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.main_pid, signum)

    def exit_code(self, stop_code: int) -> int:
        """The main command's status if it ended on its own first; else the stop's."""
        if self.main_ended_first and self.main_status is not None:
            return self.main_status
        return stop_code


def _children() -> list[int]:
    """This process's children (Linux: /proc/self/task/*/children)."""
    pids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as handle:
                pids.extend(int(pid) for pid in handle.read().split())
    return pids
