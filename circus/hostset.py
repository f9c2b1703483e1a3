"""The process hosts of an arbiter and the sockets they hold.

An arbiter uses up to two hosts (:mod:`circus.hosts`): papa-kernel for ``use_papa = true``
watchers and sockets, and the local host (direct children of circusd) for the others. This
module owns them: opening (starting the kernel, detached, if nobody answers), the one-circusd-
per-kernel lock, binding the configured sockets, noticing a lost kernel and recovering from it,
and letting an idle kernel go when circusd stops everything.

circusd holds a duplicate of every kernel socket (:mod:`circus.hosts.kernel_fds`), so a lost
kernel does not close them. Recovering from a lost kernel, in this order (docs/kernel.md,
"When the kernel dies"):

1. the watchers of the kernel say ``recovering``; if the kernel process is known dead (a
   pidfd on it, opened from SO_PEERCRED, is readable), its workers are verified and killed at
   once (:mod:`circus.orphans`): their output pipes are broken, and while our duplicates keep
   the addresses open new connections wait in the backlog. A dropped connection to a live
   kernel kills nothing;
2. a kernel is found or started, handed the duplicates (``--socket-fd``), and the processes it
   still knows are listed;
3. the orphans (workers circusd knew that the kernel no longer knows) are verified and killed
   and their exits awaited: they hold the listening addresses;
4. the sockets are bound in the kernel (the handed-over ones are claimed: same address, same
   queue, no connection refused); then the vanished processes are reported to the arbiter's
   ``on_vanished`` callback (policy: respawn them).

The same step 3 runs at start-up on the worker record a previous circusd left, for the case
where circusd and the kernel were both killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from circus import orphans
from circus.config import ConfigDiff
from circus.errors import ConfigError, HostError
from circus.hosts.base import EventHandler, ProcessHost, ProcessInfo, SocketInfo, SocketSpec
from circus.hosts.kernel import KernelHost, ensure_kernel
from circus.hosts.kernel_fds import pass_sockets
from circus.util.endpoints import kernel_socket_path
from circus.util.private_dirs import require_private_parent
from circus.worker_record import RecordedWorker, WorkerRecord, load_record, record_path

if TYPE_CHECKING:
    import subprocess

log = logging.getLogger(__name__)

#: Prefix of every kernel name circusd owns (processes, sockets, values).
KERNEL_PREFIX = "circus."
#: After stopping every worker, how long to wait for the kernel to become idle.
KERNEL_IDLE_WAIT = 2.0
#: After a kernel connection broke, how long to wait for the kernel process to be known dead
#: (its pidfd readable: it closes its sockets just before it exits) before taking it for a
#: dropped connection to a live kernel, whose workers are not touched.
KERNEL_EXIT_WAIT = 0.5
#: Longest pause between two attempts to get a lost kernel back.
MAX_RECOVERY_DELAY = 5.0

VanishedHandler = Callable[[ProcessHost, set[str]], None]

#: The names of the hosts of an arbiter.
KERNEL = "kernel"  # papa-kernel: use_papa = true watchers and sockets
LOCAL = "local"  # direct children of circusd: use_papa = false


def host_name(use_papa: bool) -> str:
    """The name of the host a watcher or socket with this ``use_papa`` runs in."""
    return KERNEL if use_papa else LOCAL


class HostSet:
    """The hosts (by name: :data:`KERNEL`, :data:`LOCAL`) and sockets (by configured name) of
    one arbiter."""

    def __init__(
        self,
        papa_endpoint: str,
        on_events: EventHandler,
        on_vanished: VanishedHandler,
        socket_specs: Callable[[], dict[str, tuple[str, SocketSpec]]],
    ):
        self.papa_endpoint = papa_endpoint
        self._on_events = on_events
        self._on_vanished = on_vanished
        self._socket_specs = socket_specs  # () -> {name: (host name, SocketSpec)} of the config
        #: the kernel-hosted workers circusd manages, journaled on disk: created once the lock
        #: is ours and the previous record's orphans were dealt with (end_orphans)
        self.record: WorkerRecord | None = None
        self._recorded: list[RecordedWorker] = []  # what the previous circusd recorded
        #: a papa-kernel launcher started early by the CLI (see kernel_launch), awaited once
        self.kernel_launcher: subprocess.Popen[bytes] | None = None
        #: True once this circusd started the kernel it uses: all it holds is ours
        self.started_kernel = False
        #: False (circusd --no-start-kernel): systemd or papa-kernel --init runs the kernel;
        #: circusd only connects (and, after a loss, waits for it to be back)
        self.start_kernel = True
        self._hosts: dict[str, ProcessHost] = {}
        self.sockets: dict[str, tuple[ProcessHost, SocketInfo]] = {}  # config name -> held
        self._lock_fd: int | None = None
        self._recovering: asyncio.Task | None = None
        self._held: dict[str, socket.socket] = {}  # kernel socket name -> our duplicate
        self._closing = False

    # --- hosts -------------------------------------------------------------------------------

    def get(self, name: str) -> ProcessHost:
        """The host called ``name`` (KeyError if it was not opened)."""
        return self._hosts[name]

    def use(self, name: str, host: ProcessHost) -> None:
        """Run with ``host`` as the host called ``name`` instead of creating one when it is
        first opened (the test harness gives a FakeHost). Before the arbiter starts."""
        self._hosts[name] = host

    @property
    def kernel(self) -> ProcessHost | None:
        return self._hosts.get(KERNEL)

    def all(self) -> list[ProcessHost]:
        return list(self._hosts.values())

    async def open(self, name: str, subscribe: bool = False) -> ProcessHost:
        """The host called ``name``, created on first use (the kernel is started if nobody
        answers). With ``subscribe``, events are delivered from now on."""
        host = self._hosts.get(name)
        if host is None:
            host = self._hosts[name] = await self._create(name)
            if subscribe:
                await host.open(self._on_events)
        return host

    async def subscribe_all(self) -> None:
        for host in self._hosts.values():
            await host.open(self._on_events)

    async def _create(self, name: str) -> ProcessHost:
        if name == LOCAL:
            # imported on first use: a configuration without use_papa = false watchers or
            # sockets never needs it (~1 MB and ~5 ms of circusd's start-up)
            from circus.hosts.local import LocalHost

            return LocalHost()
        launcher, self.kernel_launcher = self.kernel_launcher, None
        self.started_kernel = await ensure_kernel(
            self.papa_endpoint, launcher=launcher, start=self.start_kernel
        )
        return KernelHost(self.papa_endpoint, prefix=KERNEL_PREFIX, on_lost=self._on_kernel_lost)

    def take_instance_lock(self) -> None:
        """One circusd per kernel: a second one would fight over the same workers."""
        path = kernel_socket_path(self.papa_endpoint) + ".circusd.lock"
        require_private_parent(path, f"the lock of papa_endpoint {self.papa_endpoint}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"another circusd already manages the kernel at {self.papa_endpoint} (lock {path})"
            ) from None
        self._lock_fd = fd
        self._recorded = load_record(self._record_path())

    # --- sockets -----------------------------------------------------------------------------

    async def bind_sockets(self, only: ProcessHost | None = None) -> None:
        """Bind every configured socket in its host (idempotent in the kernel)."""
        for name, (where, spec) in self._socket_specs().items():
            host = await self.open(where, subscribe=True)
            if only is None or host is only:
                self.sockets[name] = (host, await _make_socket(host, name, spec))
        await self._hold_kernel_sockets()

    async def replace_sockets(self, changes: ConfigDiff) -> None:
        """reloadconfig (the configuration is already the new one): close removed and changed
        sockets, bind added and changed ones."""
        new_specs = self._socket_specs()
        for name in (*changes.sockets_removed, *changes.sockets_changed):
            held = self.sockets.pop(name, None)
            if held is not None:
                self._release(held[1].name)
                await held[0].remove_socket(held[1].name)
        for name in (*changes.sockets_added, *changes.sockets_changed):
            where, spec = new_specs[name]
            host = await self.open(where, subscribe=True)
            self.sockets[name] = (host, await _make_socket(host, name, spec))
        await self._hold_kernel_sockets()

    async def _hold_kernel_sockets(self) -> None:
        """Keep a duplicate of every kernel socket not held yet (see the module docstring)."""
        kernel = self.kernel
        held = self._held
        names = [i.name for h, i in self.sockets.values() if h is kernel and i.name not in held]
        if not isinstance(kernel, KernelHost) or not names:
            return
        try:
            held.update(await pass_sockets(kernel.endpoint, names))
        except Exception as exc:  # an older kernel, a TCP endpoint: recovery just refuses longer
            log.warning("cannot keep duplicates of the kernel's sockets %s: %s", names, exc)

    def _release(self, name: str | None = None) -> None:
        """Close our duplicate of one kernel socket (None: of all)."""
        for key in [name] if name is not None else list(self._held):
            held = self._held.pop(key, None)
            if held is not None:
                held.close()

    def sockets_info(self) -> list[dict[str, Any]]:
        """What ``listsockets`` shows, sorted by fd."""
        result = []
        for name, (_host, info) in self.sockets.items():
            entry: dict[str, Any] = {"fd": info.fileno, "name": name, "backlog": info.backlog}
            if info.path:
                entry["path"] = info.path
            else:
                entry["host"] = info.host
                entry["port"] = info.port
            result.append(entry)
        return sorted(result, key=lambda e: (e["fd"] is None, e["fd"] or 0))

    # --- the worker record and orphans ---------------------------------------------------------

    def _record_path(self) -> str:
        return record_path(kernel_socket_path(self.papa_endpoint))

    async def end_orphans(
        self, kernel_dead: bool = False, listed: Sequence[ProcessInfo] | None = None
    ) -> None:
        """Kill the workers circusd knew (or a previous circusd recorded) that the kernel does
        not run: orphans of a lost kernel. Waits until they are gone (bounded). With
        ``kernel_dead`` (the kernel process is known to have exited) all of them are orphans:
        the kernel is not asked; ``listed``: what the kernel runs, listed by the caller."""
        host = self.kernel
        if host is None:
            return
        candidates = {*self._recorded, *(self.record.live.values() if self.record else ())}
        lost: list[RecordedWorker] = list(candidates) if kernel_dead else []
        if candidates and not kernel_dead:
            running = listed if listed is not None else await host.list_processes(KERNEL_PREFIX)
            alive = {(p.name, p.pid) for p in running if p.running}
            lost = [w for w in candidates if (w.name, w.pid) not in alive]
        pidfds = orphans.kill_orphans(lost)
        if self.record is None and self._lock_fd is not None:
            # The previous record was acted on: from here on, what this circusd manages.
            self.record = WorkerRecord(self._record_path())
        self._recorded = []
        await orphans.wait_exited(pidfds)

    @property
    def recovering(self) -> bool:
        """True from the loss of the kernel until its workers were handed back to policy."""
        return self._recovering is not None

    # --- losing the kernel ---------------------------------------------------------------------

    def _on_kernel_lost(self, error: Exception) -> None:
        """The kernel connection broke (the kernel died, or a protocol error): recover in the
        background. While closing, the kernel leaving (after exit-if-idle) is expected."""
        if self._closing or self._recovering is not None:
            return
        log.error("lost papa-kernel: %s; reconnecting", error)
        self._recovering = asyncio.get_running_loop().create_task(self._recover_kernel())

    async def _recover_kernel(self) -> None:
        host = self._hosts[KERNEL]
        delay = 0.1
        try:
            if isinstance(host, KernelHost) and await host.kernel_exited(KERNEL_EXIT_WAIT):
                # Its workers' output pipes are broken: they fail every request that makes
                # them write. Killed now, the connections wait in the backlog of our
                # duplicates until the new kernel's workers accept them.
                await self.end_orphans(kernel_dead=True)
            while not self._closing:
                try:
                    handover = [f"--socket-fd={n}={s.fileno()}" for n, s in self._held.items()]
                    started = await ensure_kernel(
                        self.papa_endpoint,
                        args=handover,
                        pass_fds=[s.fileno() for s in self._held.values()],
                        start=self.start_kernel,
                    )
                    if not started:
                        self._release()  # a kernel we did not start cannot take them over
                    await host.open(self._on_events)  # reconnects
                    await self.end_orphans()  # they hold the addresses: before binding
                    await self.bind_sockets(only=host)
                    alive = {p.name for p in await host.list_processes(KERNEL_PREFIX)}
                    break
                except Exception as exc:  # keep trying: the workers depend on it
                    log.error("papa-kernel recovery failed (%s); retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_RECOVERY_DELAY)
            else:
                return
            self._on_vanished(host, alive)
            log.info("papa-kernel connection recovered")
        finally:
            self._recovering = None

    # --- closing -------------------------------------------------------------------------------

    async def close(self, remove_sockets: bool) -> None:
        """Release the hosts. With ``remove_sockets`` (everything was stopped) the sockets are
        closed too and an idle kernel is asked to exit."""
        self._closing = True
        if self._recovering is not None:
            self._recovering.cancel()
        self._release()
        if remove_sockets:
            for host, info in self.sockets.values():
                with contextlib.suppress(Exception):
                    await host.remove_socket(info.name)
            if self.kernel is not None and self.start_kernel:  # else systemd's or init's
                await _let_kernel_go(self.kernel)
        for host in self._hosts.values():
            with contextlib.suppress(Exception):
                await host.close()
        if self.record is not None:
            self.record.close()  # keeps the workers left in the kernel (none after stop_workers)
            self.record = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def stop_recovering(self) -> None:
        """Quitting: a kernel that leaves from now on is not brought back."""
        self._closing = True
        if self._recovering is not None:
            self._recovering.cancel()


async def _let_kernel_go(kernel: ProcessHost) -> None:
    """Nothing is left to keep: ask the kernel to exit when idle (the host asks after the
    exits it delivered are acknowledged, see ``KernelHost.exit_if_idle``), within
    KERNEL_IDLE_WAIT. A kernel that still holds processes, sockets or values of others stays."""
    try:
        async with asyncio.timeout(KERNEL_IDLE_WAIT):
            if await kernel.exit_if_idle():
                return
    except TimeoutError:
        log.warning("papa-kernel did not answer exit-if-idle within %.0f s", KERNEL_IDLE_WAIT)
        return
    except Exception as exc:  # the kernel is gone already, or the connection broke
        log.debug("exit-if-idle: %s", exc)
        return
    log.info("papa-kernel stays: it still holds processes, sockets or values of others")


async def _make_socket(host: ProcessHost, name: str, spec: SocketSpec) -> SocketInfo:
    """Bind ``[socket:NAME]`` in ``host``; a refusal names the section (the host's message
    names only the address: ``[socket:web] Bind failed on 127.0.0.1:8080: ...``)."""
    try:
        return await host.make_socket(spec)
    except HostError as exc:
        reason = str(exc).removeprefix(f"socket {spec.name}: ")  # the local host names its own
        exc.args = (f"[socket:{name}] {reason}",)
        raise
