"""The arbiter: owns the watchers, the sockets, the hosts, the control channel and the events.

Start-up (``Arbiter.astart``), in this order, so that a restarted circusd adopts what the kernel
kept instead of duplicating it:

1. refuse a served control endpoint and take the single-instance lock (one circusd per kernel);
2. open the hosts: connect to the kernel (starting it, detached, if nobody answers) and the
   local host if a configured watcher uses it (else on first use: a ``use_papa = false``
   socket, an added watcher);
3. kill the workers a lost kernel left behind (circusd and the kernel were both killed: the
   orphans, found in the worker record of the previous circusd, hold the listening ports; see
   :mod:`circus.orphans`), then bind the configured sockets in their hosts (idempotent: the
   kernel returns the socket it already holds);
4. list the kernel's ``circus.*`` processes and adopt every one that belongs to a configured
   watcher (same pid, no restart); processes of watchers that are no longer configured are
   stopped afterwards;
5. subscribe to output and exits (buffered output and exits that happened while circusd was
   away are delivered now, in the order the host kept them, each process's output before its exit);
6. start the watchers by priority (highest first), honouring ``warmup_delay``; the PUB socket is
   bound as soon as the first spawn requests are on their way (the events published before are
   held and sent right after), and the control socket once every watcher is started.

``quit`` leaves kernel-hosted workers running (``stop_workers=True`` ends them); ``stop``
(library API) ends everything.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fnmatch
import logging
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from circus import procinfo, spawn_records
from circus.config import CircusConfig, CircusSettings, WatcherConfig, watcher_from_options
from circus.config.names import check_watcher
from circus.errors import AlreadyExistError, ConfigError, MessageError
from circus.hosts.base import ProcessHost, ProcessInfo, SocketSpec
from circus.hosts.names import parse_process_name
from circus.hostset import KERNEL, KERNEL_PREFIX, LOCAL, HostSet, host_name
from circus.kernel_view import kernel_view as describe_kernel
from circus.process import Process
from circus.registry import ProcessRegistry
from circus.reloader import converge, read_config
from circus.spawning import SpawnContext, socket_spec
from circus.util.endpoints import parse_endpoint
from circus.util.tasks import TaskSet
from circus.watcher import Watcher
from circus.watcher_context import WatcherContext
from papa_kernel import records
from papa_kernel.paths import unix_socket_served

if TYPE_CHECKING:
    import subprocess

    from circus.events import Publisher

log = logging.getLogger(__name__)

#: Events published during start-up before the PUB socket is bound that are held for it (the
#: oldest beyond this are dropped): see :meth:`Arbiter._bind_publisher_soon`.
MAX_HELD_EVENTS = 10_000

#: Seconds quit lets the watchers' background tasks (reap hooks, spawn-record deletes) end on
#: their own before cancelling them: a hook that never returns must not keep circusd up.
QUIT_GRACE = 2.0


class ControlChannel(Protocol):
    """The control channel the arbiter binds last in :meth:`Arbiter.astart` and closes on quit
    (:class:`circus.control.controller.Controller`; the arbiter does not import it: circusd,
    :func:`circus.get_arbiter` and the test harness hand it over, see
    :func:`circus.control.control_channel`)."""

    async def start(self) -> None: ...

    async def cancel_background(self) -> None:
        """Cancel the operations commands left running (quit: before stopping watchers)."""
        ...

    async def stop(self) -> None: ...


#: Makes the control channel of an arbiter.
ControlFactory = Callable[["Arbiter"], ControlChannel]


class Arbiter:
    """Runs a configuration. See the module docstring for the start-up order. ``control``
    makes its control channel (none without it: a library program that does not want one)."""

    def __init__(
        self,
        config: CircusConfig,
        config_path: str | None = None,
        cwd: str | None = None,
        *,
        control: ControlFactory | None = None,
    ):
        self.default_cwd = cwd or os.getcwd()
        self.config = config  # sets the spawn context too
        self.config_path = config_path
        self.pid = os.getpid()
        self.started_at = time.time()
        #: psutil handle of circusd itself, kept so ``dstats`` measures cpu between calls
        self._ps_handles: dict[int, Any] = {}
        self._watchers: dict[str, Watcher] = {}  # lower-cased name -> watcher
        #: every managed process and its watcher; routes host events to them
        self.registry = ProcessRegistry(lambda: self.hosts.record)
        self.hosts = HostSet(
            config.circus.papa_endpoint,
            self.registry.dispatch,
            self.registry.vanished,
            self._socket_specs,
        )
        #: what every watcher may use of the arbiter (see circus.watcher_context)
        self.watcher_context = WatcherContext(
            publish=self.publish,
            registry=self.registry,
            settings=lambda: self.settings,
            spawn_context=lambda: self._spawn_context,
            kernel_recovering=self.kernel_recovering,
            reload_outdated=lambda: self.reload_outdated,
            plugins=lambda: self.config.plugins,
            hook_arbiter=self,
        )
        #: background tasks of circusd itself (signal handlers' work): cancelled on quit
        self.tasks = TaskSet("circusd")
        self._quitting = False
        #: ``circusd --reload-outdated``: reload_outdated for every watcher
        self.reload_outdated = False
        #: processes of watchers no longer configured, found at start-up: stopped once the
        #: configured watchers started (not to be confused with circus.orphans, the workers
        #: of a lost kernel)
        self._unconfigured: list[tuple[ProcessHost, str]] = []
        self._stopped = asyncio.Event()
        self._global_lock = asyncio.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._control = control
        self.controller: ControlChannel | None = None
        self.publisher: Publisher | None = None
        #: events published during astart before the PUB socket is bound, in order
        self._held_events: collections.deque[tuple[str, dict[str, Any]]] | None = None
        self._publisher_binding: asyncio.Task[None] | None = None
        #: told "ready" (started; after each reload), "reloading" and "stopping": circusd's
        #: systemd notifications (circus.util.systemd)
        self.on_lifecycle: Callable[[str], None] = lambda event: None

    @property
    def config(self) -> CircusConfig:
        """The running configuration (replaced by ``add``, ``rm`` and ``reloadconfig``)."""
        return self._config

    @config.setter
    def config(self, config: CircusConfig) -> None:
        self._config = config
        self._spawn_context = SpawnContext.of(config, self.default_cwd)

    # --- global options (ArbiterAPI) ---------------------------------------------------------

    @property
    def settings(self) -> CircusSettings:
        return self.config.circus

    @property
    def endpoint(self) -> str:
        return self.settings.endpoint

    @property
    def pubsub_endpoint(self) -> str:
        return self.settings.pubsub_endpoint

    @property
    def stats_endpoint(self) -> str | None:
        return self.settings.stats_endpoint

    @property
    def multicast_endpoint(self) -> str | None:
        return self.settings.multicast_endpoint

    @property
    def check_delay(self) -> float:
        return float(self.settings.check_delay)

    @property
    def endpoint_owner(self) -> str | None:
        return self.settings.endpoint_owner

    def global_options(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "pubsub_endpoint": self.pubsub_endpoint,
            "stats_endpoint": self.stats_endpoint,
            "check_delay": self.check_delay,
            "multicast_endpoint": self.multicast_endpoint,
            "papa_endpoint": self.settings.papa_endpoint,
            "statsd": self.settings.statsd,
            "warmup_delay": self.settings.warmup_delay,
            "debug": self.settings.debug,
            "commands": list(self.settings.commands),
        }

    def circusd_info(self) -> dict[str, Any]:
        # cpu: since the previous dstats (a kept handle), never by sleeping on the loop
        info = procinfo.get_info(self.pid, with_children=False, handles=self._ps_handles)
        info["children"] = []
        return info

    # --- watchers ----------------------------------------------------------------------------

    @property
    def watchers(self) -> list[Watcher]:
        return sorted(self._watchers.values(), key=lambda w: w.name.lower())

    def by_priority(
        self, watchers: Sequence[Watcher] | None = None, reverse: bool = False
    ) -> list[Watcher]:
        """Highest priority first (stable by name); ``reverse`` for stopping."""
        ordered = sorted(
            watchers if watchers is not None else self.watchers,
            key=lambda w: (-w.priority, w.name.lower()),
        )
        return ordered[::-1] if reverse else ordered

    def numwatchers(self) -> int:
        """The number of watchers (the original's API, used by its commands)."""
        return len(self._watchers)

    def numprocesses(self) -> int:
        """The number of live processes over all watchers (the original's API)."""
        return sum(len(watcher.pids()) for watcher in self._watchers.values())

    def get_watcher(self, name: str) -> Watcher:
        try:
            return self._watchers[str(name).lower()]
        except KeyError:
            raise MessageError(f"program {name} not found") from None

    def match_watchers(self, pattern: str, method: str = "glob") -> list[Watcher]:
        pattern = str(pattern).lower()
        if method == "simple":
            found = [self.get_watcher(pattern)]
        elif method == "glob":
            regex = re.compile(fnmatch.translate(pattern))
            found = [w for w in self.watchers if regex.match(w.name.lower())]
        elif method == "regex":
            try:
                regex = re.compile(pattern)
            except re.error as exc:
                raise MessageError(f"invalid regex {pattern!r}: {exc}") from None
            found = [w for w in self.watchers if regex.match(w.name.lower())]
        else:
            raise MessageError(f"unknown match method {method}")
        if not found:
            raise MessageError(f"program {pattern} not found")
        return found

    def host_for(self, use_papa: bool) -> ProcessHost:
        return self.hosts.get(host_name(use_papa))

    async def kernel_view(self) -> dict[str, Any]:
        """What papa-kernel holds (the ``kernel`` command; :mod:`circus.kernel_view`)."""
        return await describe_kernel(self.hosts.kernel, self.settings.papa_endpoint)

    def kernel_recovering(self, host: ProcessHost) -> bool:
        """True if ``host`` is the kernel and it was lost and is not recovered yet."""
        return host is self.hosts.kernel and self.hosts.recovering

    @property
    def kernel_launcher(self) -> subprocess.Popen[bytes] | None:
        return self.hosts.kernel_launcher

    @kernel_launcher.setter
    def kernel_launcher(self, launcher: subprocess.Popen[bytes] | None) -> None:
        self.hosts.kernel_launcher = launcher

    def _socket_specs(self) -> dict[str, tuple[str, SocketSpec]]:
        return {s.name: (host_name(s.use_papa), socket_spec(s)) for s in self.config.sockets}

    def _create_watcher(self, wconf: WatcherConfig) -> Watcher:
        if wconf.name.lower() in self._watchers:
            raise AlreadyExistError(f"{wconf.name!r} already exist")
        watcher = Watcher(wconf, self.watcher_context, self.host_for(wconf.use_papa))
        self._watchers[wconf.name.lower()] = watcher
        return watcher

    async def create_watcher(self, wconf: WatcherConfig) -> Watcher:
        """Create (not start) a watcher, opening the kernel host on first use."""
        await self.hosts.open(host_name(wconf.use_papa), subscribe=True)
        watcher = self._create_watcher(wconf)
        self.publish_watcher_event(watcher.res_name, "add", {"time": time.time()})
        return watcher

    async def add_watcher(
        self,
        name: str,
        cmd: str,
        args: str | list[str] | None = None,
        options: Mapping[str, Any] | None = None,
        start: bool = False,
    ) -> Watcher:
        if str(name).lower() in self._watchers:
            raise AlreadyExistError(f"{name!r} already exist")
        wconf = watcher_from_options(name, cmd, args, dict(options or {}), self.config)
        check_watcher(wconf)
        watcher = await self.create_watcher(wconf)
        self.config = records.replace(self.config, watchers=(*self.config.watchers, wconf))
        if start:
            await watcher.start()
        return watcher

    def rm_watcher(self, name: str, nostop: bool = False) -> Awaitable[None]:
        """Remove the watcher now (an unknown name raises MessageError); returns the stop of
        its processes (none with ``nostop``), which cannot be refused."""
        watcher = self.get_watcher(name)
        self._watchers.pop(watcher.name.lower(), None)
        self.config = records.replace(
            self.config,
            watchers=tuple(
                w for w in self.config.watchers if w.name.lower() != watcher.name.lower()
            ),
        )
        self.publish_watcher_event(watcher.res_name, "remove", {"time": time.time()})
        if nostop:
            watcher.detach()
        return self._retire(watcher, stop=not nostop)

    async def _retire(self, watcher: Watcher, stop: bool) -> None:
        if stop:
            await watcher.stop()
        await watcher.tasks.cancel()
        self.registry.forget_watcher(watcher)

    def _own(self, watchers: Sequence[object]) -> list[Watcher]:
        """The arbiter's watchers among ``watchers`` (what a command got from it: any object
        is accepted, only the arbiter's current watchers are taken), without those removed
        since."""
        return [w for w in self._watchers.values() if any(w is given for given in watchers)]

    def _is_current(self, watcher: Watcher) -> bool:
        return self._watchers.get(watcher.name.lower()) is watcher

    async def start_watchers(self, watchers: Sequence[object] | None = None) -> None:
        if watchers is None:
            chosen = [w for w in self.watchers if w.autostart or w.pids()]
        else:
            chosen = self._own(watchers)
        warmup = float(self.settings.warmup_delay or 0)
        for i, watcher in enumerate(self.by_priority(chosen)):
            if i and warmup:
                await asyncio.sleep(warmup)
            if self._quitting:  # SIGTERM during start-up: start nothing more
                return
            if self._is_current(watcher):  # not removed during the warmup delays
                await watcher.start()

    async def stop_watchers(self, watchers: Sequence[object] | None = None) -> None:
        chosen = None if watchers is None else self._own(watchers)
        for watcher in self.by_priority(chosen, reverse=True):
            await watcher.stop()

    async def restart(self, watchers: Sequence[object] | None = None) -> None:
        await self.stop_watchers(watchers)
        await self.start_watchers(watchers if watchers is not None else self.watchers)

    async def reload(self, graceful: bool = True, sequential: bool = False) -> None:
        for watcher in self.by_priority():
            await watcher.reload(graceful=graceful, sequential=sequential)

    def reload_config(self) -> Awaitable[dict[str, list[str]]]:
        """Read the configuration file again now: one that cannot be used raises (ConfigError
        listing every problem, MessageError without a file) and nothing changes. Returns the
        convergence to it, which cannot be refused."""
        return self._converge_to(read_config(self))

    async def _converge_to(self, new: CircusConfig) -> dict[str, list[str]]:
        async with self._global_lock:
            self.on_lifecycle("reloading")
            try:
                return await converge(self, new)
            finally:
                self.on_lifecycle("ready")

    # --- hooks for watchers -------------------------------------------------------------------

    def publish_watcher_event(self, res_name: str, event: str, payload: Mapping[str, Any]) -> None:
        self.publish(f"watcher.{res_name}.{event}", payload)

    def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        if self.publisher is not None:
            self.publisher.publish(topic, dict(payload))
        elif self._held_events is not None:
            self._held_events.append((topic, dict(payload)))

    def _bind_publisher_soon(self) -> None:
        """During astart, bind the PUB socket (importing pyzmq, ~12 ms) as soon as the loop
        is free, i.e. once the first spawn requests are on their way to the kernel: the first
        workers start while circusd does it. Events published before are held and sent, in
        order, right after the bind; a subscriber connected before circusd was up gets them as
        it would have (ZeroMQ delivers nothing published before its connection is made)."""
        if self._held_events is not None and self._publisher_binding is None:
            self._publisher_binding = asyncio.get_running_loop().create_task(self._bind_publisher())

    async def _bind_publisher(self) -> None:
        # One turn of the loop first: the spawns that start_watchers schedules right after this
        # task get to write their requests to the kernel before circusd imports pyzmq.
        await asyncio.sleep(0)
        from circus.events import EventPublisher

        publisher = EventPublisher(self.pubsub_endpoint, self.settings)
        held, self._held_events = self._held_events or (), None
        self.publisher = publisher
        for topic, payload in held:
            publisher.publish(topic, payload)

    async def _publisher_bound(self) -> None:
        """Bind the PUB socket now unless done already; raises if it could not be bound."""
        self._bind_publisher_soon()
        if self._publisher_binding is not None:
            await self._publisher_binding

    # --- lifecycle ----------------------------------------------------------------------------

    def _refuse_if_endpoint_served(self) -> None:
        """Binding an ipc endpoint silently steals it from a running circusd: refuse instead."""
        endpoint = parse_endpoint(self.endpoint)
        if endpoint.scheme == "ipc" and unix_socket_served(endpoint.path or ""):
            raise ConfigError(f"another circusd is already serving {self.endpoint}")

    async def _adopt(self, listed: Sequence[ProcessInfo]) -> None:
        """Adopt the kernel's processes ``listed`` that belong to a configured watcher.
        Each adopted process is logged at debug level, and each watcher's count at info
        level: 10,000 info lines, each flushed, were a fifth of a restart's time."""
        host = self.hosts.kernel
        if host is None:
            return
        records = await spawn_records.load(host)
        kept: set[str] = set()
        adopted: dict[Watcher, list[int]] = {}  # watcher -> [running, without a record]
        for info in listed:
            parsed = parse_process_name(info.name)
            watcher = self._watchers.get(parsed[0].lower()) if parsed else None
            if parsed is None or watcher is None or not watcher.config.use_papa:
                self._unconfigured.append((host, info.name))
                continue
            wid = parsed[1]
            proc = Process(host, info.name, wid, info.pid, info.started, adopted=True, age=info.age)
            proc.fingerprint = spawn_records.match(records, info.name, info.pid)
            counts = adopted.setdefault(watcher, [0, 0])
            if proc.fingerprint is not None:
                kept.add(info.name)
            elif info.running:
                counts[1] += 1
                log.debug("%s: process %d (wid %d) has no spawn record", watcher.name,
                          info.pid, wid)  # fmt: skip
            if not info.running:
                proc.exited_while_away = True  # its exit is logged (once) when applied
            else:
                counts[0] += 1
                log.debug("%s: adopted running process %d (wid %d)", watcher.name, info.pid, wid)
            watcher.adopt(proc)
        for watcher, (running, unrecorded) in adopted.items():
            log.info("%s: adopted %d running processes", watcher.name, running)
            if unrecorded:
                log.info("%s: %d adopted processes have no spawn record: whether they are "
                         "outdated is unknown", watcher.name, unrecorded)  # fmt: skip
        await spawn_records.drop_stale(host, records, kept)

    async def _stop_unconfigured(self) -> None:
        """Processes of watchers that are no longer configured: stop and forget them."""
        for host, name in self._unconfigured:
            log.info("stopping %s: its watcher is no longer configured", name)
            with contextlib.suppress(Exception):
                await host.signal(name, signal.SIGTERM)
        self._unconfigured.clear()

    async def bring_up(self) -> None:
        """Steps 3 to 6 of the start-up (module docstring), once the hosts are open: create
        the watchers, end a lost kernel's orphans, bind the sockets, adopt, subscribe, start
        the watchers; then report outdated processes and stop those of watchers no longer
        configured. (The test harness runs it on a FakeHost.)"""
        for wconf in self.config.watchers:
            self._create_watcher(wconf)
        # One listing serves both the orphan check and the adoption (killing orphans, which
        # the kernel does not run, and binding sockets change nothing in it). A kernel this
        # circusd has just started holds nothing (the instance lock keeps any other circusd
        # away from it): it is asked neither for its processes nor for their spawn records.
        kernel = None if self.hosts.started_kernel else self.hosts.kernel
        listed = await kernel.list_processes(KERNEL_PREFIX) if kernel is not None else []
        await self.hosts.end_orphans(listed=listed)  # a lost kernel's: they hold ports
        await self.hosts.bind_sockets()
        if kernel is not None:
            await self._adopt(listed)  # before any event flows: adopted output has an owner
        await self.hosts.subscribe_all()
        self._bind_publisher_soon()  # in astart: at the first wait of the first spawns
        await self.start_watchers()
        if self._quitting:  # quit() ran meanwhile: it closed the hosts and ends run()
            return
        for watcher in self.watchers:
            watcher.report_outdated()
        await self._stop_unconfigured()

    async def astart(self) -> None:
        """Start everything (see module docstring); returns once watchers are started."""
        self.loop = asyncio.get_running_loop()
        self._refuse_if_endpoint_served()
        if self.config.uses_kernel:
            self.hosts.take_instance_lock()
        self.publisher = None  # bound during bring_up (_bind_publisher_soon)
        self._held_events = collections.deque(maxlen=MAX_HELD_EVENTS)
        if self.config.uses_kernel:
            await self.hosts.open(KERNEL)
        if any(not w.use_papa for w in self.config.watchers):  # else opened on first use
            await self.hosts.open(LOCAL)
        await self.bring_up()
        if self._quitting:  # quit() ran meanwhile: it closed the hosts and ends run()
            return
        await self._publisher_bound()
        # Bound last: a command sent during start-up waits (queued by ZeroMQ) instead of
        # seeing half-started watchers.
        if self._control is not None:
            self.controller = self._control(self)
            await self.controller.start()
        count = len(self._watchers)
        log.info("circusd %d ready: %d watcher%s", self.pid, count, "" if count == 1 else "s")
        self.on_lifecycle("ready")

    async def run(self) -> None:
        """Start, then serve until :meth:`quit` or :meth:`stop`. If the task is cancelled
        (Ctrl-C in a library program), workers that would die with us are stopped first."""
        try:
            try:
                await self.astart()
            except BaseException:
                await self._abort_start()
                raise
            await self._stopped.wait()
        finally:
            if not self._stopped.is_set():
                await self.quit()

    async def _abort_start(self) -> None:
        """astart() failed. A kernel this circusd launched holds only what this attempt made:
        stop all of it and let the kernel go (also one launched early and not used yet). A
        kernel that was already there keeps its workers and sockets, as after ``quit``."""
        try:
            if self.hosts.kernel_launcher is not None:
                with contextlib.suppress(Exception):
                    await self.hosts.open(KERNEL)
            await self.quit(stop_workers=self.hosts.started_kernel)
        except Exception:  # the start-up error is the one to report
            log.exception("cleaning up after the failed start failed")

    async def quit(self, stop_workers: bool = False) -> None:
        """Stop circusd. Kernel-hosted workers keep running unless ``stop_workers``."""
        if self._quitting:
            await self._stopped.wait()
            return
        self._quitting = True
        self.on_lifecycle("stopping")
        self.hosts.stop_recovering()
        await self._end_publisher_binding()
        if self.controller is not None:  # a command still working would hold a watcher
            await self.controller.cancel_background()
        left: dict[str, int] = {}  # watcher -> processes it leaves running in the kernel
        for watcher in self.by_priority(reverse=True):
            if stop_workers or not watcher.host.persistent:
                await watcher.stop()
            else:
                running = sum(1 for p in watcher.processes.values() if p.alive)
                if running:
                    left[watcher.name] = running
                watcher.detach()
        # Every background task ends here (a signal's quit task is the caller: not itself).
        # The watchers' (reap hooks, spawn-record deletes the idle kernel waits for) first get
        # a moment to finish.
        await asyncio.gather(*(w.tasks.cancel(QUIT_GRACE) for w in self._watchers.values()))
        await self.tasks.cancel()
        await self.hosts.close(remove_sockets=stop_workers)
        if self.controller is not None:
            await self.controller.stop()
        if self.publisher is not None:
            self.publisher.close()
        self._log_exit(left)
        self._stopped.set()

    def _log_exit(self, left: Mapping[str, int]) -> None:
        """Say whether workers keep running without circusd (Ctrl-C does not show it)."""
        if not left:
            log.info("circusd %d exits: no process keeps running", self.pid)
            return
        total = sum(left.values())
        log.info(
            "circusd %d exits: %d %s running in papa-kernel at %s (%s); the next circusd "
            "adopts them ('circusctl quit --stop-workers' or 'circusd --stop-workers-on-exit' "
            "stops them)",
            self.pid,
            total,
            "process keeps" if total == 1 else "processes keep",
            self.hosts.papa_endpoint,
            ", ".join(f"{name}: {count}" for name, count in sorted(left.items())),
        )

    async def _end_publisher_binding(self) -> None:
        """quit during start-up: the PUB socket is not bound any more (nor its error raised,
        the start-up reports its own)."""
        binding, self._publisher_binding = self._publisher_binding, None
        self._held_events = None
        if binding is not None:
            binding.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await binding

    def sockets_info(self) -> list[dict[str, Any]]:
        return self.hosts.sockets_info()

    # --- library API ----------------------------------------------------------------------

    def start(self) -> Coroutine[Any, Any, None] | None:
        """Library entry: blocks running circusd when called outside an event loop; inside
        one, returns an awaitable that starts it (``await arbiter.start()``)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self.run())
            return None
        return self.astart()

    def stop(self) -> Coroutine[Any, Any, None] | None:
        """Stop every watcher (workers included) and circusd.

        Inside the arbiter's loop it returns an awaitable; from another thread it schedules
        the stop on the arbiter's loop (thread-safe); after :meth:`start` returned it does
        nothing."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and running is self.loop:
            return self.quit(stop_workers=True)
        if self.loop is not None and not self.loop.is_closed() and not self._stopped.is_set():
            future = asyncio.run_coroutine_threadsafe(self.quit(stop_workers=True), self.loop)
            return future.result(timeout=max(60.0, self._longest_graceful_timeout() + 10))
        return None

    def _longest_graceful_timeout(self) -> float:
        return max((w.graceful_timeout for w in self._watchers.values()), default=0.0)
