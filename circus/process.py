"""One worker process as circusd sees it: identity, lifecycle state, and signals.

The process itself runs in a :class:`~circus.hosts.base.ProcessHost` (the kernel or circusd);
this object only mirrors what the host reported and routes signals through the host, which
signals by pidfd, so a recycled pid can never be hit. Exits are *pushed* by the host (an
:class:`~circus.hosts.base.ExitRecord`) and applied with :meth:`Process.mark_exited`.

Lifecycle (one choke point, :meth:`Process._transition`)::

    RUNNING --stop signal sent--> STOPPING --exit--> EXITED
    RUNNING --exit-----------------------------------> EXITED
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import signal
import time
from typing import TYPE_CHECKING, Any

from circus import procinfo
from circus.hosts.base import ProcessHost

if TYPE_CHECKING:  # psutil is imported at the first stats call, not on circusd's start-up
    import psutil

log = logging.getLogger(__name__)


class ProcessState(enum.Enum):
    RUNNING = "running"
    STOPPING = "stopping"
    EXITED = "exited"


_LEGAL = {
    (ProcessState.RUNNING, ProcessState.STOPPING),  # stop signal sent
    (ProcessState.RUNNING, ProcessState.EXITED),  # died or was reaped
    (ProcessState.STOPPING, ProcessState.EXITED),  # stopped as asked (or killed)
}


class Process:
    """A worker of a watcher: ``wid`` slot, host name, pid and state.

    One per worker, so kept small (10,000 workers are 10,000 of these): slots, and what only
    some processes need (the exit event a waiter awaits, psutil handles for ``stats``) is
    made when first needed."""

    __slots__ = (
        "_age_when_seen", "_exited", "_ps_handles", "_seen_at", "adopted", "exit_code",
        "exited_while_away", "fingerprint", "host", "name", "pid", "restart_round", "started",
        "state", "state_since", "wid",
    )  # fmt: skip

    def __init__(
        self,
        host: ProcessHost,
        name: str,
        wid: int,
        pid: int,
        started: float,
        adopted: bool = False,
        age: float | None = None,
    ):
        self.host = host
        self.name = name  # host-unique name, e.g. circus.web.3
        self.wid = wid
        self.pid = pid
        self.started = started  # epoch seconds
        self.adopted = adopted  # reattached after a circusd restart
        #: adopted already exited: its exit happened while no circusd was watching
        self.exited_while_away = False
        #: what it was spawned from (circus.spawn_records), None when unknown
        self.fingerprint: dict[str, str] | None = None
        #: the watcher's restart round when it was spawned (see circus.restart_policy)
        self.restart_round = 0
        self.state = ProcessState.RUNNING
        self.state_since = time.monotonic()
        self.exit_code: int | None = None
        self._exited: asyncio.Event | None = None  # made by the first wait()
        # Ages run on the loop's clock (the one max_age timers use) from the moment circusd
        # learned of the process: at its spawn (age 0), or when adopted (its age then, as the
        # host measured it: ``started`` is on the host's wall clock, off from circusd's by a
        # remote host's skew; only a host that does not say has it taken from that).
        self._seen_at = asyncio.get_running_loop().time()
        if not adopted:
            self._age_when_seen = 0.0
        elif age is not None:
            self._age_when_seen = max(0.0, age)
        else:
            self._age_when_seen = max(0.0, time.time() - started)
        # psutil handles kept between stats calls: cpu_percent() measures since the previous
        # call on the same handle (a new handle each time always reads 0.0). Made at the
        # first stats call, not at spawn.
        self._ps_handles: dict[int, psutil.Process] | None = None

    def __repr__(self) -> str:
        return f"<Process {self.name} pid={self.pid} {self.state.value}>"

    # --- state ------------------------------------------------------------------------------

    def _transition(self, new: ProcessState) -> bool:
        if self.state is new:
            return False
        if (self.state, new) not in _LEGAL:
            raise RuntimeError(f"{self.name}: illegal transition {self.state} -> {new}")
        self.state = new
        self.state_since = time.monotonic()
        return True

    @property
    def alive(self) -> bool:
        return self.state is not ProcessState.EXITED

    def mark_exited(self, exit_code: int | None) -> bool:
        """Apply the host's exit report. Returns False if it was already known."""
        if not self._transition(ProcessState.EXITED):
            return False
        self.exit_code = exit_code
        if self._exited is not None:
            self._exited.set()
        return True

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait for the exit; True if it exited within ``timeout``."""
        if not self.alive:
            return True
        if self._exited is None:
            self._exited = asyncio.Event()
        if timeout is None:
            await self._exited.wait()
            return True
        try:
            async with asyncio.timeout(timeout):
                await self._exited.wait()
        except TimeoutError:
            return False
        return True

    # --- signals ----------------------------------------------------------------------------

    async def send_signal(self, signum: int) -> bool:
        """Signal the process through its host. False if it has already exited."""
        if not self.alive:
            return False
        return await self.host.signal(self.name, signum)

    async def stop_signal(self, signum: int) -> bool:
        """Send the stop signal and enter STOPPING."""
        sent = await self.send_signal(signum)
        if self.state is ProcessState.RUNNING:
            self._transition(ProcessState.STOPPING)  # RUNNING -> STOPPING
        return sent

    def children(self, recursive: bool = False) -> list[int]:
        return procinfo.children_pids(self.pid, recursive) if self.alive else []

    def signal_pid(self, pid: int, signum: int) -> None:
        """Signal a descendant (not a host child: plain kill; ESRCH ignored)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)

    def kill_leftovers(self) -> None:
        """SIGKILL what remains of the process group after the process exited.

        Every worker is a session and group leader (both hosts spawn with setsid), so its
        pgid is its pid. Linux never hands out a pid that is still used as a process group id,
        so while members of the group live, ``killpg(pid)`` can only reach them."""
        if not self.alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    # --- info -------------------------------------------------------------------------------

    def age(self) -> float:
        """Seconds since the process started."""
        return self._age_when_seen + asyncio.get_running_loop().time() - self._seen_at

    def info(self) -> dict[str, Any] | str:
        """The original's stats dict (plus age, started, wid) or the dead-process string."""
        if not self.alive:
            return procinfo.DEAD_PROCESS
        import psutil

        try:
            if self._ps_handles is None:
                self._ps_handles = {}
            info = procinfo.get_info(self.pid, handles=self._ps_handles)
        except psutil.NoSuchProcess:
            return procinfo.DEAD_PROCESS
        info["age"] = self.age()
        info["started"] = self.started
        info["wid"] = self.wid
        return info
