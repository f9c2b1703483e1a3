"""An in-memory :class:`~circus.hosts.base.ProcessHost`: no processes, no sockets, every call
recorded.

The host records each call (spawn, signal with its ``group`` flag, set_value...) with the loop's
time, and lets the test decide what processes do: exit on their own (:meth:`FakeHost.exit`),
write output (:meth:`FakeHost.output`), ignore signals, fail to spawn, make a socket readable
(:meth:`FakeHost.connect`). Events reach the arbiter the way real hosts deliver them: in
batches, in order, one batch at a time, to the handler given to :meth:`open`.

Timestamps (``started``, exit and output times) are wall-clock seconds on the loop's clock:
``host.wall()`` is the real time at the host's creation plus the loop time elapsed since, so on
a :class:`~circus.testing.clock.VirtualTimeLoop` they advance with virtual time; plus
``clock_skew`` seconds, for a host whose clock is off from circusd's (a remote machine's). As
papa-kernel does, the host lists a running process's ``age`` on its own clock.

Fake pids are above the Linux ``PID_MAX_LIMIT`` (2**22), so no real process can ever have one:
code that still signals pids directly (process groups, psutil children) finds nothing.
"""

from __future__ import annotations

import asyncio
import signal as signals
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from circus.errors import SpawnError
from circus.hosts.base import (
    EventHandler,
    ExitRecord,
    HostEvent,
    OutputChunk,
    ProcessHost,
    ProcessInfo,
    SocketInfo,
    SocketSpec,
    SpawnSpec,
)

#: First fake pid: above PID_MAX_LIMIT of 64-bit Linux, never a real process.
FIRST_FAKE_PID = 2**22 + 1
#: Signals a fake process dies of unless it ignores them (SIGKILL cannot be ignored).
LETHAL_SIGNALS = frozenset(
    {
        signals.SIGKILL,
        signals.SIGTERM,
        signals.SIGINT,
        signals.SIGQUIT,
        signals.SIGHUP,
        signals.SIGUSR1,
        signals.SIGUSR2,
        signals.SIGALRM,
        signals.SIGPIPE,
    }
)


@dataclass(frozen=True)
class Call:
    """One call the host received: ``op`` at loop time ``at``."""

    at: float
    op: str  # spawn | signal | set_value | make_socket | remove_socket | wait_readable | ...
    name: str = ""
    signum: int | None = None
    group: bool = False
    pid: int | None = None  # of the process signalled (None: no such process)
    value: str | None = None  # set_value: the value (None: deleted)


@dataclass
class FakeProcess:
    """A process the fake host "runs"."""

    name: str
    pid: int
    spec: SpawnSpec | None
    started: float  # wall-clock seconds (host.wall())
    ignores: set[int] = field(default_factory=set)
    running: bool = True
    exit_code: int | None = None


class FakeHost(ProcessHost):
    """See the module docstring. ``persistent`` says which real host it stands for."""

    def __init__(self, *, persistent: bool = True, clock_skew: float = 0.0):
        self.persistent = persistent
        #: seconds the host's wall clock is ahead of this machine's (negative: behind)
        self.clock_skew = clock_skew
        self.calls: list[Call] = []
        self.processes: dict[str, FakeProcess] = {}  # name -> its latest process
        self.history: list[FakeProcess] = []  # every process ever, replaced ones included
        #: the next N spawns fail with SpawnError (counted down)
        self.fail_spawns = 0
        #: signals new processes ignore (a "stubborn" program: {SIGTERM})
        self.ignore_signals: set[int] = set()
        #: called with each new process (e.g. to make it exit after a while)
        self.on_spawn: Callable[[FakeProcess], None] | None = None
        self.sockets: dict[str, SocketInfo] = {}
        self.opened = False
        self.closed = False
        self._next_pid = FIRST_FAKE_PID
        self._on_events: EventHandler | None = None
        self._pending: list[HostEvent] = []
        self._delivering: asyncio.Task | None = None
        self._readable: dict[str, list[asyncio.Future[str]]] = {}
        self._origin: float | None = None

    # --- clock and records ---------------------------------------------------------------------

    @staticmethod
    def now() -> float:
        """The loop's time (what ``Call.at`` holds)."""
        return asyncio.get_running_loop().time()

    def wall(self) -> float:
        """Wall-clock seconds that advance with the loop's clock."""
        if self._origin is None:
            self._origin = time.time() + self.clock_skew - self.now()
        return self._origin + self.now()

    def _record(
        self,
        op: str,
        name: str = "",
        signum: int | None = None,
        group: bool = False,
        pid: int | None = None,
        value: str | None = None,
    ) -> None:
        self.calls.append(Call(self.now(), op, name, signum, group, pid, value))

    def ops(self, *ops: str) -> list[Call]:
        """The recorded calls of the given kinds (all calls without arguments)."""
        return [c for c in self.calls if not ops or c.op in ops]

    def running(self) -> list[FakeProcess]:
        return [p for p in self.processes.values() if p.running]

    def by_pid(self, pid: int) -> FakeProcess:
        """The process that had ``pid`` (exited or replaced ones too); KeyError if none."""
        for proc in self.history:
            if proc.pid == pid:
                return proc
        raise KeyError(pid)

    # --- what processes do (driven by the test) -------------------------------------------------

    def add_process(
        self, name: str, *, age: float = 0.0, running: bool = True, exit_code: int | None = None
    ) -> FakeProcess:
        """A process the host already has (to test adoption after a restart); one that is
        not ``running`` has its exit record waiting for the next :meth:`open`."""
        proc = FakeProcess(name, self._take_pid(), None, self.wall() - age, running=running)
        proc.exit_code = exit_code
        self.processes[name] = proc
        self.history.append(proc)
        if not running:  # its exit record waits for the next listener, as in the kernel
            self._pending.append(ExitRecord(name, self.wall(), exit_code))
        return proc

    def exit(self, name_or_pid: str | int, exit_code: int | None = 0, after: float = 0.0) -> None:
        """The process ends on its own with ``exit_code`` (``-signum``: killed), now or
        ``after`` seconds of loop time."""
        proc = self._find(name_or_pid)
        if after > 0:
            asyncio.get_running_loop().call_later(after, self._die, proc, exit_code)
        else:
            self._die(proc, exit_code)

    def output(self, name_or_pid: str | int, data: bytes, stream: str = "stdout") -> None:
        proc = self._find(name_or_pid)
        self._emit(OutputChunk(proc.name, stream, self.wall(), data))

    def emit(self, *events: HostEvent) -> None:
        """Deliver ``events`` as they are, in this order, in one batch (timestamps and order
        chosen by the test; the processes' state is not changed)."""
        for event in events:
            self._emit(event)

    def connect(self, socket_name: str) -> None:
        """A client connects to ``socket_name``: wakes its ``wait_readable`` callers."""
        for waiter in self._readable.pop(socket_name, []):
            if not waiter.done():
                waiter.set_result(socket_name)

    def _find(self, name_or_pid: str | int) -> FakeProcess:
        if isinstance(name_or_pid, int):
            return self.by_pid(name_or_pid)
        return self.processes[name_or_pid]

    def _take_pid(self) -> int:
        pid, self._next_pid = self._next_pid, self._next_pid + 1
        return pid

    def _die(self, proc: FakeProcess, exit_code: int | None) -> None:
        if not proc.running:
            return
        proc.running = False
        proc.exit_code = exit_code
        self._emit(ExitRecord(proc.name, self.wall(), exit_code))

    def _emit(self, event: HostEvent) -> None:
        self._pending.append(event)
        if self._on_events is not None and (self._delivering is None or self._delivering.done()):
            self._delivering = asyncio.get_running_loop().create_task(self._deliver())

    async def _deliver(self) -> None:
        while self._pending and self._on_events is not None:
            batch, self._pending = self._pending, []
            await self._on_events(batch)

    # --- ProcessHost ---------------------------------------------------------------------------

    async def open(self, on_events: EventHandler) -> None:
        self._record("open")
        self.opened = True
        self._on_events = on_events
        if self._pending:
            self._delivering = asyncio.get_running_loop().create_task(self._deliver())

    async def close(self, *, keep_children: bool = False) -> None:
        self._record("close")
        self.closed = True
        self._on_events = None
        if self._delivering is not None:
            self._delivering.cancel()
        for waiters in self._readable.values():
            for waiter in waiters:
                waiter.cancel()

    async def exit_if_idle(self) -> bool:
        self._record("exit_if_idle")
        return not self.running()

    async def spawn(self, spec: SpawnSpec) -> ProcessInfo:
        self._record("spawn", spec.name)
        if self.fail_spawns > 0:
            self.fail_spawns -= 1
            raise SpawnError(f"cannot spawn {spec.name}: fake failure")
        old = self.processes.get(spec.name)
        if old is not None and old.running:
            raise SpawnError(f"cannot spawn {spec.name}: the name is in use")
        proc = FakeProcess(spec.name, self._take_pid(), spec, self.wall(), set(self.ignore_signals))
        self.processes.pop(spec.name, None)
        self.processes[spec.name] = proc
        self.history.append(proc)
        if self.on_spawn is not None:
            self.on_spawn(proc)
        return ProcessInfo(proc.name, proc.pid, proc.started, True, args=" ".join(spec.argv))

    async def signal(self, name: str, signum: int, *, group: bool = False) -> bool:
        proc = self.processes.get(name)
        self._record("signal", name, signum, group, proc.pid if proc else None)
        if proc is None or not proc.running:
            return False
        if signum in LETHAL_SIGNALS and (signum == signals.SIGKILL or signum not in proc.ignores):
            self._die(proc, -signum)
        return True

    async def list_processes(self, prefix: str = "") -> list[ProcessInfo]:
        self._record("list_processes", prefix)
        return [
            ProcessInfo(
                p.name,
                p.pid,
                p.started,
                p.running,
                p.exit_code,
                age=self.wall() - p.started if p.running else None,
            )
            for p in self.processes.values()
            if p.name.startswith(prefix)
        ]

    async def make_socket(self, spec: SocketSpec) -> SocketInfo:
        self._record("make_socket", spec.name)
        info = self.sockets.get(spec.name)
        if info is None:
            fileno = 3 + len(self.sockets)
            info = SocketInfo(
                spec.name,
                spec.family,
                spec.type,
                fileno,
                spec.host,
                spec.port,
                spec.path,
                spec.backlog,
            )
            self.sockets[spec.name] = info
        return info

    async def list_sockets(self, prefix: str = "") -> list[SocketInfo]:
        return [s for n, s in self.sockets.items() if n.startswith(prefix)]

    async def remove_socket(self, name: str) -> None:
        self._record("remove_socket", name)
        self.sockets.pop(name, None)

    async def set_value(self, name: str, value: str | None) -> None:
        self._record("set_value", name, value=value)
        await super().set_value(name, value)

    async def wait_readable(self, names: Sequence[str]) -> str:
        self._record("wait_readable", ",".join(names))
        waiter = asyncio.get_running_loop().create_future()
        for name in names:
            self._readable.setdefault(name, []).append(waiter)
        try:
            return await waiter
        finally:
            for name in names:
                waiters = self._readable.get(name, [])
                if waiter in waiters:
                    waiters.remove(waiter)
