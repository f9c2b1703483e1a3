"""A watcher: N processes of one command, kept alive according to its policy.

Rationale
---------
Everything that changes a watcher (commands, exits, max_age timers, socket activity) ends in
one of two places:

- a *command* (start, stop, reload, incr, set...) runs under ``self._lock``, so conflicting
  commands never interleave on one watcher: the second waits for the first instead of failing
  with the original's "already running" error;
- *convergence* (:meth:`_converge`) brings the number of processes to the target after an exit,
  an ``incr``/``decr`` or a timer. It also takes the lock, so it never races a stop.

Exits are applied to the :class:`~circus.process.Process` objects immediately (outside the
lock), so a command waiting for processes to die (a graceful stop) is woken without needing the
lock. Respawning is event-driven: the host pushes the exit record and convergence follows at
once; there is no periodic polling (``check_delay`` is only kept for compatibility).

Crash loops: a process that exits on its own (not killed by SIGKILL/TERM/INT/QUIT/HUP) less
than :data:`MIN_UPTIME` seconds after it was spawned, or that cannot be spawned at all, counts
as a failed start. Failed starts are retried with an
exponential back-off (capped by ``retry_in``); after ``max_retry`` consecutive ones (``-1``:
never) the watcher gives up and stops, as the manual describes for ``max_retry``.

States (one choke point, :meth:`_transition`)::

    STOPPED -> STARTING -> ACTIVE -> STOPPING -> STOPPED
    STARTING -> STOPPING (start aborted by a hook)    ACTIVE -> STOPPED (respawn off, all exited)
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import signal as signals
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from circus import hooks as hooklib
from circus.errors import MessageError, SpawnError
from circus.hosts.base import ExitRecord, OutputChunk, ProcessHost
from circus.process import Process

if TYPE_CHECKING:
    from circus.arbiter import Arbiter

log = logging.getLogger(__name__)

#: A process that dies sooner than this after its spawn counts as a failed start.
MIN_UPTIME = 1.0
#: Exit codes of processes killed by a signal somebody sent: never counted as failed starts.
KILLED_FROM_OUTSIDE = frozenset(
    -int(sig)
    for sig in (signals.SIGKILL, signals.SIGTERM, signals.SIGINT, signals.SIGQUIT, signals.SIGHUP)
)
#: Spawns issued together when no warmup_delay spaces them (the host pipelines a batch).
SPAWN_BATCH = 64
#: First delay before retrying a failed start; doubled each time, capped by ``retry_in``.
FIRST_RETRY_DELAY = 0.1


class WatcherState(enum.Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    ACTIVE = "active"
    STOPPING = "stopping"


S = WatcherState
_LEGAL = {
    (S.STOPPED, S.STARTING),  # start
    (S.STARTING, S.ACTIVE),  # processes spawned, after_start ok
    (S.STARTING, S.STOPPING),  # a start hook said no, or spawning gave up
    (S.ACTIVE, S.STOPPING),  # stop
    (S.STOPPING, S.STOPPED),  # every process gone
    (S.ACTIVE, S.STOPPED),  # respawn off and the last process exited
}


class Watcher:
    """Runs ``numprocesses`` copies of a command through a :class:`ProcessHost`."""

    def __init__(self, config: Any, arbiter: Arbiter, host: ProcessHost):
        from circus.spawning import SpawnBuilder

        self.config = config
        self.arbiter = arbiter
        self.host = host
        self.name: str = config.name
        self.numprocesses: int = (
            1 if config.singleton and config.numprocesses > 1 else config.numprocesses
        )
        self.processes: dict[int, Process] = {}  # pid -> process, in spawn order
        self.state = WatcherState.STOPPED
        self.state_since = time.monotonic()
        self._lock = asyncio.Lock()
        self._builder = SpawnBuilder(self)
        self._hooks = hooklib.load_hooks(dict(config.hooks or {}), f"watcher:{self.name}")
        self._streams: dict[str, Any] = {}
        self._converge_task: asyncio.Task | None = None
        self._converge_requested = False
        self._timers: dict[int, asyncio.TimerHandle] = {}  # pid -> max_age timer
        self._failures = 0
        self._retry_at = 0.0
        self._demand_seen = not config.on_demand
        self._recovering = False

    def reload_hooks(self) -> None:
        self._hooks = hooklib.load_hooks(dict(self.config.hooks or {}), f"watcher:{self.name}")

    def __repr__(self) -> str:
        return f"<Watcher {self.name} {self.state.value} {len(self.processes)} procs>"

    # --- config accessors (the manual's names) -----------------------------------------------

    @property
    def singleton(self) -> bool:
        return bool(self.config.singleton)

    @property
    def stop_signal(self) -> int:
        return int(self.config.stop_signal)

    @property
    def graceful_timeout(self) -> float:
        return float(self.config.graceful_timeout)

    @property
    def priority(self) -> int:
        return int(self.config.priority)

    @property
    def respawn(self) -> bool:
        return bool(self.config.respawn)

    @property
    def autostart(self) -> bool:
        return bool(self.config.autostart)

    @property
    def on_demand(self) -> bool:
        return bool(self.config.on_demand)

    @property
    def res_name(self) -> str:
        """Name used in event topics (lower-cased, spaces replaced, as the original)."""
        return self.name.lower().replace(" ", "_")

    # --- state -------------------------------------------------------------------------------

    def _transition(self, new: WatcherState) -> None:
        if self.state is new:
            return
        if (self.state, new) not in _LEGAL:
            raise RuntimeError(f"watcher {self.name}: illegal transition {self.state} -> {new}")
        log.debug("watcher %s: %s -> %s", self.name, self.state.value, new.value)
        self.state = new
        self.state_since = time.monotonic()

    def status(self) -> str:
        return self.state.value

    def is_active(self) -> bool:
        return self.state is WatcherState.ACTIVE

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes.values() if p.alive]

    def publish(self, event: str, payload: dict[str, Any]) -> None:
        self.arbiter.publish_watcher_event(self.res_name, event, payload)

    async def _hook(self, name: str, **kwargs: Any) -> bool:
        return await hooklib.run_hook(
            self._hooks.get(name), self, self.arbiter, self.publish, **kwargs
        )

    # --- output and exits (pushed by the host through the arbiter) ---------------------------

    def _stream(self, which: str):
        stream = self._streams.get(which)
        if stream is None:
            stream = self._streams[which] = self._builder.build_stream(which)
        return stream

    def on_output(self, proc: Process, chunk: OutputChunk) -> None:
        message = {
            "data": chunk.data,
            "pid": proc.pid,
            "name": chunk.stream,
            "timestamp": chunk.timestamp,
        }
        try:
            self._stream(chunk.stream)(message)
        except Exception:  # a broken user stream must not stop output of others
            log.exception("watcher %s: %s stream failed", self.name, chunk.stream)

    def on_exit(self, proc: Process, record: ExitRecord) -> None:
        """Apply an exit reported by the host, publish ``reap``, and converge."""
        if not proc.mark_exited(record.exit_code):
            return
        if "before_reap" in self._hooks or "after_reap" in self._hooks:
            asyncio.get_running_loop().create_task(self._reap_hooks(proc, record))
        self.processes.pop(proc.pid, None)
        timer = self._timers.pop(proc.pid, None)
        if timer:
            timer.cancel()
        self.publish(
            "reap",
            {"process_pid": proc.pid, "time": record.timestamp, "exit_code": record.exit_code},
        )
        log.info(
            "%s: process %d (wid %d) exited with %s",
            self.name,
            proc.pid,
            proc.wid,
            record.exit_code,
        )
        if self.state is not WatcherState.ACTIVE:
            return
        if self._crashed_at_start(proc, record):
            self._record_failure()
        elif record.exit_code not in KILLED_FROM_OUTSIDE:
            self._failures = 0
        if self.on_demand and not self.processes:
            self._demand_seen = False
            self.arbiter.arm_on_demand(self)
        if not self.respawn and not self.processes:
            self._transition(WatcherState.STOPPED)  # ACTIVE -> STOPPED
            self.publish("stop", {"time": time.time()})
            return
        self.schedule_converge()

    async def _reap_hooks(self, proc: Process, record: ExitRecord) -> None:
        """before_reap/after_reap: the host already reaped the process (it is the kernel's
        child), so both run after the fact, in order; their results are advisory."""
        for name in ("before_reap", "after_reap"):
            await self._hook(name, pid=proc.pid, exit_code=record.exit_code, time=record.timestamp)

    @staticmethod
    def _crashed_at_start(proc: Process, record: ExitRecord) -> bool:
        """A failed start: died on its own within MIN_UPTIME. Being killed by a signal someone
        sent (an operator's kill, a test, the OOM killer) is not the program's failure."""
        if proc.adopted or record.exit_code in KILLED_FROM_OUTSIDE:
            return False
        return record.timestamp - proc.started < MIN_UPTIME

    def _record_failure(self) -> None:
        self._failures += 1
        delay = min(FIRST_RETRY_DELAY * 2 ** (self._failures - 1), self._retry_in())
        self._retry_at = time.monotonic() + delay

    def _retry_in(self) -> float:
        return float(getattr(self.config, "retry_in", 7.0) or 7.0)

    def _gave_up(self) -> bool:
        max_retry = int(self.config.max_retry)
        return max_retry >= 0 and self._failures > max_retry

    # --- convergence -------------------------------------------------------------------------

    def schedule_converge(self) -> None:
        """Bring the process count to the target soon (coalesces repeated requests; a
        request made while convergence runs makes it run once more)."""
        self._converge_requested = True
        if self._converge_task is None or self._converge_task.done():
            self._converge_task = asyncio.get_running_loop().create_task(self._converge())

    async def _converge(self) -> None:
        while self._converge_requested:
            self._converge_requested = False
            delay = self._retry_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            async with self._lock:
                if self.state is not WatcherState.ACTIVE:
                    return
                if self._gave_up():
                    log.error(
                        "%s: %d failed starts in a row (max_retry=%s): giving up",
                        self.name,
                        self._failures,
                        self.config.max_retry,
                    )
                    await self._stop_locked()
                    return
                await self._manage_processes()

    async def _manage_processes(self) -> list[int]:
        """Spawn missing processes and stop extra ones (the oldest). Lock held."""
        started: list[int] = []
        if not self._demand_seen:
            return started
        missing = self.numprocesses - len(self.processes)
        if missing > 0:
            procs = await self._spawn_many(missing)
            started = [proc.pid for proc in procs if proc is not None]
            if len(started) < missing and self.state in (S.ACTIVE, S.STARTING):
                self.schedule_converge()  # retries after the back-off, or gives up
        elif missing < 0:
            oldest = sorted(self.processes.values(), key=lambda p: p.started)[:-missing]
            await self._stop_processes(oldest)
        return started

    async def _spawn_many(self, count: int) -> list[Process | None]:
        """Spawn ``count`` processes in the smallest free wid slots.

        Without ``warmup_delay`` they are spawned in concurrent batches of
        :data:`SPAWN_BATCH`: the host pipelines them (one kernel round trip per batch instead
        of per process). With it, one at a time with the delay in between. Stops at the first
        failure (the caller schedules the retry)."""
        warmup = float(self.config.warmup_delay or 0)
        wids = self._free_wids(count)
        batch = 1 if warmup else SPAWN_BATCH
        result: list[Process | None] = []
        for start in range(0, count, batch):
            if self.state not in (S.ACTIVE, S.STARTING):
                break
            if start and warmup:
                await asyncio.sleep(warmup)
            procs = await asyncio.gather(*(self._spawn_one(w) for w in wids[start : start + batch]))
            result += procs
            if None in procs:
                break
        return result

    def _free_wids(self, count: int) -> list[int]:
        """The ``count`` smallest wids not used by a live process (wids start at 1)."""
        used = {p.wid for p in self.processes.values()}
        free: list[int] = []
        wid = 1
        while len(free) < count:
            if wid not in used:
                free.append(wid)
            wid += 1
        return free

    async def _spawn_one(self, wid: int | None = None) -> Process | None:
        """Spawn one process (in ``wid``, default the smallest free slot); None on failure
        (counted as a failed start)."""
        if wid is None:
            wid = self._free_wids(1)[0]
        if not self._recovering and not await self._hook("before_spawn"):
            log.warning("%s: before_spawn hook refused the spawn", self.name)
            self.arbiter.loop.create_task(self.stop())
            return None
        try:
            spec = self._builder.spec(wid)
            async with self.arbiter.spawning(spec.name):
                info = await self.host.spawn(spec)
                proc = Process(
                    self.host,
                    spec.name,
                    wid,
                    info.pid,
                    info.started,
                    config_hash=self._builder.config_hash,
                )
                self.processes[proc.pid] = proc
                self.arbiter.register_process(self, proc)
        except SpawnError as exc:
            log.error("%s: cannot spawn wid %d: %s", self.name, wid, exc)
            self._record_failure()
            return None
        self.publish("spawn", {"process_pid": proc.pid, "time": proc.started})
        self._arm_max_age(proc)
        if not await self._hook("after_spawn", pid=proc.pid):
            log.warning("%s: after_spawn hook refused process %d", self.name, proc.pid)
            await self._stop_processes([proc])
            self.arbiter.loop.create_task(self.stop())
            return None
        return proc

    def adopt(self, proc: Process) -> None:
        """Take over a process found running in the host (circusd restarted)."""
        self.processes[proc.pid] = proc
        self.arbiter.register_process(self, proc)
        self._arm_max_age(proc)

    # --- max_age ------------------------------------------------------------------------------

    def _arm_max_age(self, proc: Process) -> None:
        max_age = float(self.config.max_age or 0)
        if max_age <= 0:
            return
        variance = float(self.config.max_age_variance or 0)
        lifetime = max_age + random.uniform(0, variance) - proc.age()
        loop = asyncio.get_running_loop()
        self._timers[proc.pid] = loop.call_later(
            max(lifetime, 0), lambda: loop.create_task(self._recycle(proc))
        )

    async def _recycle(self, proc: Process) -> None:
        """max_age reached: start a replacement first, then stop the old process."""
        async with self._lock:
            self._timers.pop(proc.pid, None)
            if self.state is not WatcherState.ACTIVE or not proc.alive:
                return
            log.info("%s: process %d reached max_age, recycling", self.name, proc.pid)
            await self._spawn_one()
            await self._stop_processes([proc])

    # --- stopping processes ------------------------------------------------------------------

    async def _signal_process(self, proc: Process, signum: int) -> None:
        """Signal a process (and its children if stop_children) with the signal hooks."""
        if signum != signals.SIGKILL and not await self._hook(
            "before_signal", pid=proc.pid, signum=signum
        ):
            return
        if self.config.stop_children:
            for child in proc.children():
                proc.signal_pid(child, signum)
                self.publish("kill", {"process_pid": child, "time": time.time()})
        await proc.stop_signal(signum)
        self.publish("kill", {"process_pid": proc.pid, "time": time.time()})
        await self._hook("after_signal", pid=proc.pid, signum=signum)

    async def _stop_processes(
        self,
        procs: Sequence[Process],
        signum: int | None = None,
        graceful_timeout: float | None = None,
    ) -> None:
        """Graceful stop: signal, wait up to graceful_timeout, then SIGKILL the process and
        every descendant still alive; once it is gone, whatever is left in its process group
        (children it did not wait for, e.g. ``sh -c "...; sleep 60"``) is killed too, so a
        stop leaves no orphans behind."""
        procs = [p for p in procs if p.alive]
        if not procs:
            return
        signum = self.stop_signal if signum is None else signum
        timeout = self.graceful_timeout if graceful_timeout is None else graceful_timeout
        for proc in procs:
            await self._signal_process(proc, signum)
        results = await asyncio.gather(*(p.wait(timeout) for p in procs))
        stubborn = [p for p, done in zip(procs, results, strict=True) if not done]
        for proc in stubborn:
            log.info(
                "%s: process %d ignored signal %d for %.1fs, killing",
                self.name,
                proc.pid,
                signum,
                timeout,
            )
            for child in proc.children(recursive=True):
                proc.signal_pid(child, signals.SIGKILL)
            await proc.send_signal(signals.SIGKILL)
            self.publish("kill", {"process_pid": proc.pid, "time": time.time()})
        if stubborn:
            await asyncio.gather(*(p.wait(timeout + 5) for p in stubborn))
        for proc in procs:
            proc.kill_leftovers()

    # --- commands (WatcherAPI) ---------------------------------------------------------------

    async def start(self) -> dict[str, list[int]]:
        async with self._lock:
            return await self._start_locked()

    async def _start_locked(self) -> dict[str, list[int]]:
        if self.state is not WatcherState.STOPPED:
            return {"started": [], "kept": self.pids()}
        kept = self.pids()
        self._recovering = bool(kept)
        self._failures = 0
        self._retry_at = 0.0
        self._transition(WatcherState.STARTING)  # STOPPED -> STARTING
        try:
            if not self._recovering and not await self._hook("before_start"):
                log.warning("%s: before_start hook refused the start", self.name)
                await self._abort_start()
                return {"started": [], "kept": kept}
            self._demand_seen = not self.on_demand or bool(kept)
            started = await self._manage_processes()
        finally:
            self._recovering = False
        if self.state is not WatcherState.STARTING:
            return {"started": started, "kept": kept}
        self._transition(WatcherState.ACTIVE)  # STARTING -> ACTIVE
        if not await self._hook("after_start"):
            log.warning("%s: after_start hook failed, stopping", self.name)
            await self._stop_locked()
            return {"started": [], "kept": kept}
        if self.on_demand and not self._demand_seen:
            self.arbiter.arm_on_demand(self)
        self.publish("start", {"time": time.time()})
        await self.arbiter.watcher_started(self)
        return {"started": started, "kept": kept}

    async def _abort_start(self) -> None:
        self._transition(WatcherState.STOPPING)  # STARTING -> STOPPING
        await self._stop_processes(list(self.processes.values()))
        self._transition(WatcherState.STOPPED)  # STOPPING -> STOPPED

    async def stop(self) -> None:
        async with self._lock:
            await self._stop_locked()

    async def _stop_locked(self) -> None:
        if self.state is WatcherState.STOPPED:
            return
        self._transition(WatcherState.STOPPING)  # ACTIVE|STARTING -> STOPPING
        await self._hook("before_stop")
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.arbiter.disarm_on_demand(self)
        await self._stop_processes(list(self.processes.values()))
        self._transition(WatcherState.STOPPED)  # STOPPING -> STOPPED
        self.close_streams()
        await self._hook("after_stop")
        self.publish("stop", {"time": time.time()})
        await self.arbiter.watcher_stopped(self)

    async def restart(self) -> dict[str, list[int]]:
        async with self._lock:
            stopped = self.pids()
            await self._stop_locked()
            result = await self._start_locked()
        return {"stopped": stopped, "started": result["started"], "kept": result["kept"]}

    async def reload(self, graceful: bool = True, sequential: bool = False) -> dict[str, list[int]]:
        if not graceful:
            return await self.restart()
        async with self._lock:
            if self.state is WatcherState.STOPPED:
                result = await self._start_locked()
                return {"stopped": [], **result}
            old = list(self.processes.values())
            if self.config.send_hup:
                for proc in old:
                    await self._signal_process(proc, signals.SIGHUP)
                result = {"stopped": [], "started": [], "kept": [p.pid for p in old]}
            elif sequential:
                result = await self._reload_sequential(old)
            else:
                result = await self._replace_all()
        self.publish("reload", {"time": time.time()})
        return result

    async def _reload_sequential(self, old: list[Process]) -> dict[str, list[int]]:
        started: list[int] = []
        for proc in old:
            await self._stop_processes([proc])
            new = await self._spawn_one()
            if new:
                started.append(new.pid)
            if self.config.warmup_delay:
                await asyncio.sleep(float(self.config.warmup_delay))
        return {"stopped": [p.pid for p in old], "started": started, "kept": []}

    async def incr(self, nb: int = 1) -> int:
        async with self._lock:
            if self.singleton:
                return self.numprocesses
            self.numprocesses += nb
            if self.state is WatcherState.ACTIVE:
                await self._manage_processes()
            return self.numprocesses

    async def decr(self, nb: int = 1) -> int:
        async with self._lock:
            if self.singleton:
                return self.numprocesses
            self.numprocesses = max(0, self.numprocesses - nb)
            if self.state is WatcherState.ACTIVE:
                await self._manage_processes()
            return self.numprocesses

    async def set_numprocesses(self, n: int) -> int:
        async with self._lock:
            self.numprocesses = min(n, 1) if self.singleton else max(0, n)
            if self.state is WatcherState.ACTIVE:
                await self._manage_processes()
            return self.numprocesses

    async def kill(
        self,
        signum: int | None = None,
        pid: int | None = None,
        graceful_timeout: float | None = None,
    ) -> None:
        procs = [self._process(pid)] if pid is not None else list(self.processes.values())
        await self._stop_processes(procs, signum, graceful_timeout)

    async def signal(
        self,
        signum: int,
        pid: int | None = None,
        childpid: int | None = None,
        children: bool = False,
        recursive: bool = False,
    ) -> None:
        if childpid is not None and pid is None:
            raise MessageError("childpid requires pid")
        procs = [self._process(pid)] if pid is not None else list(self.processes.values())
        for proc in procs:
            if childpid is not None:
                if childpid not in proc.children(recursive=True):
                    raise MessageError(f"child '{childpid}' not found in process '{proc.pid}'")
                proc.signal_pid(childpid, signum)
            elif children:
                for child in proc.children():
                    proc.signal_pid(child, signum)
            else:
                if (
                    not await self._hook("before_signal", pid=proc.pid, signum=signum)
                    and signum != signals.SIGKILL
                ):
                    continue
                descendants = proc.children(recursive=True) if recursive else []
                await proc.send_signal(signum)
                for child in descendants:  # listed first: a dead parent has no children
                    proc.signal_pid(child, signum)
                await self._hook("after_signal", pid=proc.pid, signum=signum)

    def _process(self, pid: int) -> Process:
        try:
            return self.processes[int(pid)]
        except (KeyError, ValueError):
            raise MessageError(f"process '{pid}' not found in '{self.name}'") from None

    # --- options -----------------------------------------------------------------------------

    def options(self) -> dict[str, Any]:
        return self._builder.options()

    def get_options(self, keys: Sequence[str]) -> dict[str, Any]:
        options = self.options()
        result = {}
        for key in keys:
            if key not in options:
                raise MessageError(f"{key!r} option not found")
            result[key] = options[key]
        return result

    async def set_options(self, options: Mapping[str, Any]) -> None:
        async with self._lock:
            needs_reload = self._builder.apply_options(options)
            for _key in options:
                self.publish("updated", {"time": time.time()})
            if self.state is WatcherState.STOPPED:
                return
            if needs_reload:
                await self._replace_all()
            else:
                await self._manage_processes()

    async def replace_config(self, config: Any, restart: bool) -> None:
        """reloadconfig: take a new configuration; restart processes gracefully if needed."""
        async with self._lock:
            old = self.config
            self.config = config
            self._builder = type(self._builder)(self)
            if config.hooks != old.hooks:
                self.reload_hooks()
            if (config.stdout_stream, config.stderr_stream) != (
                old.stdout_stream,
                old.stderr_stream,
            ):
                self.close_streams()
            self.numprocesses = (
                min(config.numprocesses, 1) if config.singleton else config.numprocesses
            )
            if self.state is not WatcherState.ACTIVE:
                return
            if restart:
                await self._replace_all()
            else:
                await self._manage_processes()

    async def _replace_all(self) -> dict[str, list[int]]:
        """Graceful reload: spawn a full set of new processes first, then stop the old ones
        (no moment without workers). Lock held."""
        old = list(self.processes.values())
        started = [p.pid for p in await self._spawn_many(self.numprocesses) if p is not None]
        await self._stop_processes(old)
        return {"stopped": [p.pid for p in old], "started": started, "kept": []}

    # --- stats -------------------------------------------------------------------------------

    def stats(self, pid: int | None = None, extended: bool = False) -> dict[str, Any]:
        procs = [self._process(pid)] if pid is not None else list(self.processes.values())
        result: dict[str, Any] = {}
        for proc in procs:
            info = proc.info()
            if extended and isinstance(info, dict) and "extended_stats" in self._hooks:
                hook = self._hooks["extended_stats"]
                with contextlib.suppress(Exception):
                    hook.func(
                        watcher=self,
                        arbiter=self.arbiter,
                        hook_name="extended_stats",
                        pid=proc.pid,
                        stats=info,
                    )
            result[str(proc.pid)] = info
        return result

    # --- teardown ----------------------------------------------------------------------------

    def close_streams(self) -> None:
        for stream in self._streams.values():
            with contextlib.suppress(Exception):
                stream.close()
        self._streams.clear()

    def detach(self) -> None:
        """Forget processes without stopping them (circusd quits, the kernel keeps them)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._converge_task:
            self._converge_task.cancel()
        self.close_streams()
