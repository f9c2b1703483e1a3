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

Crash loops: what a failed start is, the back-off and when to give up are decided by the
pure functions of :mod:`circus.restart_policy` (``Watcher.restart_state`` is the state they
return; it feeds them each exit and spawn error, with the uptimes of the live processes to
read lazily); the watcher does the effects: it waits for ``restart_state.retry_at`` before
spawning, and when the policy gives up it logs why once, publishes ``gave_up`` and stops
(:meth:`Watcher._give_up`). Flapping (a flapping plugin section): when the policy finds it
flapping it logs, publishes ``flapping``, stops and starts again ``retry_in`` later unless a
command started or stopped it meanwhile (:meth:`Watcher._flap`).

States (one choke point, :meth:`_transition`)::

    STOPPED -> STARTING -> ACTIVE -> STOPPING -> STOPPED
    STARTING -> STOPPING (start aborted by a hook)    ACTIVE -> STOPPED (respawn off, all exited)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Iterator
from typing import Any

from circus import hooks as hooklib
from circus import restart_policy as policy
from circus import spawn_records
from circus.config import WatcherChange, WatcherConfig, diff_watcher
from circus.config.limits import process_limit
from circus.config.schema import watcher_option_values
from circus.errors import MessageError, SpawnError
from circus.hosts.base import ExitRecord, OutputChunk, ProcessHost
from circus.output_tail import OutputTail
from circus.process import Process, ProcessState
from circus.spawning import SpawnMemo, socket_host_names
from circus.streams import Stream, watcher_stream
from circus.streams.guard import StreamGuard
from circus.util.tasks import TaskSet
from circus.watcher_commands import WatcherCommands
from circus.watcher_context import WatcherContext
from circus.watcher_outdated import OutdatedWorkers
from circus.watcher_state import LEGAL_TRANSITIONS, S, WatcherState
from circus.wid_slots import WidSlots

log = logging.getLogger(__name__)

#: Spawns issued together when no warmup_delay spaces them (the host pipelines a batch).
SPAWN_BATCH = 64


class Watcher(WatcherCommands, OutdatedWorkers):
    """Runs ``numprocesses`` copies of a command through a :class:`ProcessHost`.

    The commands of the control channel (start, stop, reload, incr, signal...) and the
    graceful stop of processes are in :class:`circus.watcher_commands.WatcherCommands`; the
    spawn records and outdated processes in :class:`circus.watcher_outdated.OutdatedWorkers`."""

    def __init__(self, config: WatcherConfig, context: WatcherContext, host: ProcessHost):
        self.config = config
        #: what the watcher uses of the arbiter that runs it (see circus.watcher_context)
        self.context = context
        self.host = host
        self.name: str = config.name
        self.numprocesses: int = self.clamp(config.numprocesses)
        self.processes: dict[int, Process] = {}  # pid -> process, in spawn order
        self._wids = WidSlots()  # the wids of self.processes (_hold/_let_go keep both)
        self.state = WatcherState.STOPPED
        self.state_since = time.monotonic()
        self._lock = asyncio.Lock()
        self._spawn_memo = SpawnMemo()
        self.reload_hooks()
        self._streams: dict[str, Stream] = {}
        self._guards: dict[str, StreamGuard] = {}
        #: the end of the output, for ``tail`` (circushttpd's live view)
        self.output_tail = OutputTail()
        #: every background task of this watcher: cancelled when it is detached or removed
        self.tasks = TaskSet(f"watcher {config.name}")
        self._converge_task: asyncio.Task | None = None
        self._converge_requested = False
        self._timers: dict[int, asyncio.TimerHandle] = {}  # pid -> max_age timer
        #: where the watcher stands in its restart policy (reset by a start)
        self.restart_state = policy.RestartState()
        #: why the watcher gave up, until the next start (None: it did not)
        self.gave_up: policy.GaveUp | None = None
        #: stopped as flapping, until its retry, a start or a stop (None: it is not)
        self.flapping: policy.Flapping | None = None
        #: a reload kept the running processes (the new ones failed), until a reload succeeds
        #: or a stop (None: the last reload did not)
        self.reload_failed: dict[str, Any] | None = None
        #: hook name -> hooks.failure_detail of its last run, for the hooks whose last run raised
        self.hook_failures: dict[str, dict[str, Any]] = {}
        #: the error of the last failed spawn, for a reload that keeps the running processes
        self.last_spawn_error: str | None = None
        self._demand_seen = not config.on_demand
        self._on_demand: asyncio.Task | None = None  # waiting for a client (on_demand)
        self._recovering = False
        # A stop or quit is waiting for the lock: a start or scale in progress stops spawning
        # at its next batch instead of finishing a large count first (a request, not a state).
        self._halt_spawning = False
        self._outdated_task: asyncio.Task | None = None
        self._dropping: dict[str, asyncio.Task[None]] = {}  # process name -> its record delete

    def clamp(self, numprocesses: int) -> int:
        """A process count as the watcher can have it: at least 0, at most 1 if singleton."""
        return min(numprocesses, 1) if self.config.singleton else max(0, numprocesses)

    def check_count(self, numprocesses: int) -> int:
        """``numprocesses`` if this watcher may be asked to run that many processes, else
        MessageError naming the process limit and where it comes from
        (:mod:`circus.config.limits`; ``[circus] max_processes`` is read live)."""
        try:
            return process_limit(self.context.settings().max_processes).check(numprocesses)
        except ValueError as exc:
            raise MessageError(f"{self.name}: {exc}") from None

    def take_config(self, config: WatcherConfig) -> WatcherChange | None:
        """Switch to a new configuration (``set``, ``reloadconfig``): hooks and streams follow
        it, a changed ``numprocesses`` becomes the target. Returns the
        :class:`~circus.config.WatcherChange` (None if nothing changed)."""
        change = diff_watcher(self.config, config)
        if change is not None and "hooks" in change.keys:
            self.reload_hooks(config)  # first: a hook that does not import changes nothing
        self.config = config
        if change is None:
            return None
        if "numprocesses" in change.keys:
            self.numprocesses = self.clamp(config.numprocesses)
        if change.keys & {"stdout_stream", "stderr_stream"}:
            self.close_streams()
        if self.reload_outdated_enabled() and self.state is WatcherState.ACTIVE:
            self.schedule_reload_outdated()  # turned on, or processes outdated by the change
        return change

    def reload_hooks(self, config: WatcherConfig | None = None) -> None:
        """Import the hooks of ``config`` (default: the current one); ConfigError if one of
        them does not import, the hooks in use are kept then."""
        config = self.config if config is None else config
        self._hooks = hooklib.load_hooks(dict(config.hooks or {}), f"watcher:{self.name}")

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
        if (self.state, new) not in LEGAL_TRANSITIONS:
            raise RuntimeError(f"watcher {self.name}: illegal transition {self.state} -> {new}")
        log.debug("watcher %s: %s -> %s", self.name, self.state.value, new.value)
        self.state = new
        self.state_since = time.monotonic()

    def status(self) -> str:
        """The state; ``recovering`` while active but its kernel was lost and its processes
        are not yet handed back (see HostSet)."""
        if self.state is WatcherState.ACTIVE and self.context.kernel_recovering(self.host):
            return "recovering"
        return self.state.value

    def is_active(self) -> bool:
        return self.state is WatcherState.ACTIVE

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes.values() if p.alive]

    def publish(self, event: str, payload: dict[str, Any]) -> None:
        self.context.publish(f"watcher.{self.res_name}.{event}", payload)

    async def _hook(self, name: str, **kwargs: Any) -> bool:
        return await hooklib.run_hook(
            self._hooks.get(name),
            self,
            self.context.hook_arbiter,
            self.publish,
            self._record_hook,
            **kwargs,
        )

    def _record_hook(self, hook: hooklib.Hook, exc: BaseException | None) -> None:
        if exc is None:
            self.hook_failures.pop(hook.name, None)
        else:
            self.hook_failures[hook.name] = hooklib.failure_detail(hook, exc, time.time())

    # --- spawning (the pure functions of circus.spawning, memoised) --------------------------

    def current_fingerprint(self, wid: int) -> spawn_records.Fingerprint | None:
        """The fingerprint process ``wid`` would get if spawned now (None if it cannot be)."""
        ctx = self.context.spawn_context()
        return self._spawn_memo.current_fingerprint(self.config, ctx, wid)

    def common_fingerprint(self) -> spawn_records.Fingerprint | None:
        """The fingerprint every wid would get if spawned now, when that does not depend on
        the wid (the usual case); None otherwise."""
        return self._spawn_memo.common_fingerprint(self.config, self.context.spawn_context())

    def options(self) -> dict[str, Any]:
        """The watcher's options as ``get``/``options`` show them (the live count)."""
        values = watcher_option_values(self.config)
        values["numprocesses"] = self.numprocesses
        return values

    # --- output and exits (pushed by the host through the arbiter) ---------------------------

    def _stream(self, which: str) -> Stream:
        stream = self._streams.get(which)
        if stream is None:
            conf = self.config.stdout_stream if which == "stdout" else self.config.stderr_stream
            stream = self._streams[which] = watcher_stream(conf, which, self.name)
        return stream

    def output_guard(self, which: str) -> StreamGuard:
        """The :class:`~circus.streams.guard.StreamGuard` of the ``stdout``/``stderr`` stream."""
        guard = self._guards.get(which)
        if guard is None:
            guard = self._guards[which] = StreamGuard(f"watcher {self.name}: {which} stream")
        return guard

    def on_output(self, proc: Process, chunk: OutputChunk) -> bool:
        """Hand a chunk to its stream. False if the stream failed (or is failing): the chunk
        was not written and must not be acknowledged (see :mod:`circus.streams.guard`)."""
        message = {
            "data": chunk.data,
            "pid": proc.pid,
            "name": chunk.stream,
            "timestamp": chunk.timestamp,
        }
        taken = self.output_guard(chunk.stream).write(
            lambda m: self._stream(chunk.stream)(m), message
        )
        if taken:
            self.output_tail.add(proc.pid, chunk.stream, chunk.timestamp, chunk.data)
        return taken

    def on_exit(self, proc: Process, record: ExitRecord) -> None:
        """Apply an exit reported by the host, publish ``reap``, and converge."""
        requested = proc.state is ProcessState.STOPPING  # the watcher stopped it
        if not proc.mark_exited(record.exit_code):
            return
        if "before_reap" in self._hooks or "after_reap" in self._hooks:
            self.tasks.spawn(self._reap_hooks(proc, record), "reap hooks")
        self._let_go(proc)
        self._drop_record_soon(proc)
        timer = self._timers.pop(proc.pid, None)
        if timer:
            timer.cancel()
        self.publish(
            "reap",
            {"process_pid": proc.pid, "time": record.timestamp, "exit_code": record.exit_code},
        )
        log.info(
            "%s: process %d (wid %d) exited %swith %s",
            self.name,
            proc.pid,
            proc.wid,
            "while circusd was away " if proc.exited_while_away else "",
            record.exit_code,
        )
        if self.state not in (WatcherState.ACTIVE, WatcherState.STARTING):
            return
        uptime = None if proc.adopted else record.timestamp - proc.started
        rules, spawned_in = self.restart_policy, proc.restart_round
        state = policy.after_uptime(rules, self.restart_state, spawned_in=spawned_in, uptime=uptime)
        self.restart_state = policy.after_exit(
            rules,
            state,
            exit_code=record.exit_code,
            uptime=uptime,
            spawned_in=spawned_in,
            now=asyncio.get_running_loop().time(),  # the clock sleep() uses
            wall=time.time(),
            running=self._running(),
            requested=requested,
        )
        if self.state is WatcherState.ACTIVE:  # while STARTING, the start does it at its end
            self.after_exits()

    def after_exits(self) -> None:
        """Policy once processes exited: respawn (converge), or with ``respawn = false`` stop
        the watcher when the last one is gone; re-arm ``on_demand``."""
        if self.on_demand and not self.processes:
            self._demand_seen = False
            self.arm_on_demand()
        if not self.respawn:  # an exit is final: never top the count up again
            if not self.processes:
                self._transition(WatcherState.STOPPED)  # ACTIVE -> STOPPED
                self.publish("stop", {"time": time.time()})
        elif len(self.processes) < self.numprocesses or self.restart_state.flapping:
            self.schedule_converge()  # respawn, or stop as flapping

    async def _reap_hooks(self, proc: Process, record: ExitRecord) -> None:
        """before_reap/after_reap: the host already reaped the process (it is the kernel's
        child), so both run after the fact, in order; their results are advisory."""
        for name in ("before_reap", "after_reap"):
            await self._hook(name, pid=proc.pid, exit_code=record.exit_code, time=record.timestamp)

    # --- restart policy (decisions in circus.restart_policy, effects here) -------------------

    @property
    def restart_policy(self) -> policy.RestartPolicy:
        """The declared policy of the current configuration (``max_retry``, ``retry_in``...,
        the flapping rule of the configuration's flapping plugin section)."""
        return policy.RestartPolicy.from_config(self.config, self.context.plugins())

    def _running(self) -> policy.Running:
        """Round and uptime of the live processes, for the policy to read if it must (lazy)."""
        return ((p.restart_round, None if p.adopted else p.age()) for p in self.processes.values())

    def gave_up_detail(self) -> dict[str, Any] | None:
        """Why the watcher gave up (:meth:`GaveUp.as_dict`), None if it did not; cleared by
        a start."""
        return None if self.gave_up is None else self.gave_up.as_dict()

    def reload_failed_detail(self) -> dict[str, Any] | None:
        """Why the last reload kept the running processes (``error``, ``kept``, ``time``,
        ``reason``), None if it did not; cleared by a reload that succeeds and by a stop."""
        return self.reload_failed

    def hook_failed_detail(self) -> dict[str, dict[str, Any]] | None:
        """``{hook name: detail}`` (:func:`circus.hooks.failure_detail`) of the hooks whose last
        run raised, None if none did; a hook's entry goes when it runs without an exception."""
        return dict(self.hook_failures) or None

    def flapping_detail(self) -> dict[str, Any] | None:
        """Why the watcher is stopped as flapping and when it retries
        (:meth:`Flapping.as_dict`), None if it is not."""
        return None if self.flapping is None else self.flapping.as_dict()

    async def _flap(self, found: policy.Flapping) -> None:
        """The policy found the watcher flapping: say so (log, ``flapping`` event, status
        detail), stop as a ``stop`` would, and start again ``retry_in`` seconds after the
        detection unless a start or stop comes first. Lock held."""
        log.warning("%s: flapping: %s", self.name, found.reason)
        self.publish("flapping", found.as_dict())
        await self._stop_locked()
        self.flapping = found
        self.tasks.spawn(self._retry_flapping(found), "retry after flapping")

    async def _retry_flapping(self, found: policy.Flapping) -> None:
        await asyncio.sleep(found.at + found.retry_in - asyncio.get_running_loop().time())
        async with self._lock:
            if self.flapping is not found:
                return  # started or stopped by a command meanwhile
            log.info("%s: retrying after flapping (retry %d)", self.name, found.retry)
            await self._start_locked(policy.after_flapping_pause(self.restart_state))

    async def _give_up(self, gave_up: policy.GaveUp) -> None:
        """The policy gave up: say why once (log, ``gave_up`` event, status detail), then stop
        as an operator's ``stop`` would (``stop`` event; the wire status is ``stopped``). Lock
        held."""
        log.error("%s: giving up: %s", self.name, gave_up.reason)
        self.gave_up = gave_up
        self.publish("gave_up", gave_up.as_dict())
        await self._stop_locked()

    # --- convergence -------------------------------------------------------------------------

    def schedule_converge(self) -> None:
        """Bring the process count to the target soon (coalesces repeated requests; a
        request made while convergence runs makes it run once more). Ignored while spawning
        is halted: a stop is on its way, or the watcher was detached (converging would find
        spawning halted and ask again, forever)."""
        if self._halt_spawning:
            return
        self._converge_requested = True
        if self._converge_task is None or self._converge_task.done():
            self._converge_task = self.tasks.spawn(self._converge(), "convergence")

    async def _converge(self) -> None:
        while self._converge_requested:
            self._converge_requested = False
            delay = self.restart_state.retry_at - asyncio.get_running_loop().time()
            if delay > 0 and self.restart_state.gave_up is None:  # giving up does not wait
                await asyncio.sleep(delay)
            async with self._lock:
                if self.state is not WatcherState.ACTIVE:
                    return
                if self.restart_state.gave_up is not None:
                    await self._give_up(self.restart_state.gave_up)
                    return
                if self.restart_state.flapping is not None:
                    await self._flap(self.restart_state.flapping)
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
        of per process). With it, one at a time with the delay in between. Each batch takes its
        wids as it goes (nothing is allocated per process up front) and is awaited, so the loop
        serves signals and commands in between; a stop or quit requested meanwhile ends the
        spawning at the next batch. Stops at the first failure (the caller schedules the
        retry)."""
        warmup = float(self.config.warmup_delay or 0)
        batch = 1 if warmup else SPAWN_BATCH
        free = self._free_wids()
        result: list[Process | None] = []
        for start in range(0, count, batch):
            if self.state not in (S.ACTIVE, S.STARTING) or self._halt_spawning:
                break
            if start and warmup:
                await asyncio.sleep(warmup)
            wids = itertools.islice(free, min(batch, count - start))
            batch_round = self.restart_state.round  # one round: their failures count once
            procs = await asyncio.gather(*(self._spawn_one(w, batch_round) for w in wids))
            result += procs
            if None in procs:
                break
        return result

    def _free_wids(self) -> Iterator[int]:
        """The wids not used by a live process, smallest first (wids start at 1), one at a
        time as they are taken."""
        return self._wids.free()

    async def _spawn_one(
        self, wid: int | None = None, spawned_in: int | None = None
    ) -> Process | None:
        """Spawn one process (in ``wid``, default the smallest free slot) as part of restart
        round ``spawned_in`` (default: the current one); None on failure (counted as a failed
        start)."""
        if wid is None:
            wid = next(self._free_wids())
        if spawned_in is None:
            spawned_in = self.restart_state.round
        if not self._recovering and not await self._hook("before_spawn"):
            log.warning("%s: before_spawn hook refused the spawn", self.name)
            self.tasks.spawn(self.stop(), "stop after a refused hook")
            return None
        try:
            ctx = self.context.spawn_context()
            spec = self._spawn_memo.spec(self.config, ctx, wid)
            fingerprint = self._spawn_memo.fingerprint(self.config, ctx, spec)
            async with self.context.registry.spawning(spec.name):
                info = await self.host.spawn(spec)
                proc = Process(
                    self.host,
                    spec.name,
                    wid,
                    info.pid,
                    info.started,
                )
                proc.restart_round = spawned_in
                self._hold(proc)
                self.context.registry.add(self, proc)
            await self._record_spawn(proc, fingerprint)
        except SpawnError as exc:
            log.error("%s: cannot spawn wid %d: %s", self.name, wid, exc)
            self.last_spawn_error = str(exc)
            self.restart_state = policy.after_spawn_error(
                self.restart_policy,
                self.restart_state,
                error=str(exc),
                spawned_in=spawned_in,
                now=asyncio.get_running_loop().time(),
                wall=time.time(),
                running=self._running(),
            )
            return None
        self.publish("spawn", {"process_pid": proc.pid, "time": proc.started})
        self._arm_max_age(proc)
        if not await self._hook("after_spawn", pid=proc.pid):
            log.warning("%s: after_spawn hook refused process %d", self.name, proc.pid)
            await self._stop_processes([proc])
            self.tasks.spawn(self.stop(), "stop after a refused hook")
            return None
        return proc

    def adopt(self, proc: Process) -> None:
        """Take over a process found running in the host (circusd restarted)."""
        common = self.common_fingerprint()
        if proc.fingerprint is not None and proc.fingerprint == common:
            proc.fingerprint = common  # shared, and ``outdated()`` skips it by identity
        self._hold(proc)
        self.context.registry.add(self, proc)
        self._arm_max_age(proc)

    def _hold(self, proc: Process) -> None:
        self.processes[proc.pid] = proc
        self._wids.take(proc.wid)

    def _let_go(self, proc: Process) -> None:
        if self.processes.pop(proc.pid, None) is not None:
            self._wids.release(proc.wid)

    # --- on demand ------------------------------------------------------------------------------

    def arm_on_demand(self) -> None:
        """Start the processes when one of the watcher's sockets becomes readable (a client
        connects); the wait is a task of the watcher, cancelled by a stop or a detach."""
        names = socket_host_names(self.config, self.context.spawn_context())
        if not names or self._on_demand is not None:
            return

        async def wait() -> None:
            try:
                await self.host.wait_readable(names)
            finally:
                self._on_demand = None
            self._demand_seen = True
            self.schedule_converge()

        self._on_demand = self.tasks.spawn(wait(), "on_demand wait")

    def disarm_on_demand(self) -> None:
        task, self._on_demand = self._on_demand, None
        if task is not None:
            task.cancel()

    # --- max_age ------------------------------------------------------------------------------

    def _arm_max_age(self, proc: Process) -> None:
        max_age = float(self.config.max_age or 0)
        if max_age <= 0:
            return
        variance = float(self.config.max_age_variance or 0)
        lifetime = max_age + random.uniform(0, variance) - proc.age()
        loop = asyncio.get_running_loop()
        self._timers[proc.pid] = loop.call_later(
            max(lifetime, 0), lambda: self.tasks.spawn(self._recycle(proc), "max_age recycling")
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

    # --- teardown ----------------------------------------------------------------------------

    def close_streams(self) -> None:
        """Close the output streams (they are built again at the next output)."""
        for stream in self._streams.values():
            with contextlib.suppress(Exception):
                stream.close()
        self._streams.clear()

    def detach(self) -> None:
        """Forget processes without stopping them (circusd quits, the kernel keeps them)."""
        self._halt_spawning = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.tasks.cancel_soon()
        self.cancel_reload_outdated()
        self.close_streams()
