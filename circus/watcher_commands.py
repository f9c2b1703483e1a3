"""The commands of a watcher (the WatcherAPI of circus.control.api) and graceful stopping.

A mixin of :class:`circus.watcher.Watcher`, kept in its own module so that the watcher's
engine (state, exits, convergence, spawning) and its commands each stay readable. Every
command that changes the watcher takes ``self._lock``: conflicting commands run one after the
other, never interleaved.
"""

from __future__ import annotations

import asyncio
import logging
import signal as signals
import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from circus.config import apply_watcher_options
from circus.config.names import check_watcher
from circus.errors import MessageError
from circus.restart_policy import Flapping, GaveUp, RestartState
from circus.watcher_state import WatcherState

if TYPE_CHECKING:
    from circus.config import WatcherConfig
    from circus.process import Process
    from circus.watcher_core import WatcherCore

    _Core = WatcherCore  # type-checked against the watcher's engine (see circus.watcher_core)
else:
    _Core = object

log = logging.getLogger("circus.watcher")


class WatcherCommands(_Core):
    """Start, stop, reload, scale, signal, configure and inspect a watcher."""

    # Assigned here, first set by Watcher.__init__.
    numprocesses: int  # the live target (incr/decr change it; the config keeps the file's)
    gave_up: GaveUp | None  # why the restart policy gave up, until the next start
    flapping: Flapping | None  # stopped as flapping, until its retry, a start or a stop
    reload_failed: dict[str, Any] | None  # a reload kept the running processes: why
    last_spawn_error: str | None  # the error of the last failed spawn

    # --- stopping processes -----------------------------------------------------------------

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
        await self._records_dropped(procs)

    async def start(self) -> dict[str, list[int]]:
        async with self._lock:
            return await self._start_locked()

    async def _start_locked(
        self, restart_state: RestartState | None = None
    ) -> dict[str, list[int]]:
        """Start (lock held); ``restart_state``: where the restart policy starts from (default:
        a fresh row of attempts, as any command's start)."""
        if self.state is not WatcherState.STOPPED:
            return {"started": [], "kept": self.pids()}
        kept = self.pids()
        self._recovering = bool(kept)
        self.restart_state = restart_state or RestartState()
        self.gave_up = self.flapping = None
        self._transition(WatcherState.STARTING)  # STOPPED -> STARTING
        try:
            if not self._recovering and not await self._hook("before_start"):
                log.warning("%s: before_start hook refused the start", self.name)
                await self._abort_start()
                self.gave_up = GaveUp.refused_by(self._hooks["before_start"].path, time.time())
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
            self.arm_on_demand()
        self.publish("start", {"time": time.time()})
        if len(self.processes) < len(started) + len(kept):
            self.after_exits()  # some exited while the watcher was starting
        return {"started": started, "kept": kept}

    async def _abort_start(self) -> None:
        self._transition(WatcherState.STOPPING)  # STARTING -> STOPPING
        await self._stop_processes(list(self.processes.values()))
        self._transition(WatcherState.STOPPED)  # STOPPING -> STOPPED

    async def stop(self) -> None:
        self._halt_spawning = True  # a start or scale holding the lock ends at its next batch
        async with self._lock:
            self.flapping = None  # no retry after flapping: stopped on purpose
            await self._stop_locked()

    async def _stop_locked(self) -> None:
        self._halt_spawning = False
        if self.state is WatcherState.STOPPED:
            return
        self._transition(WatcherState.STOPPING)  # ACTIVE|STARTING -> STOPPING
        self.reload_failed = None  # nothing is kept any more
        await self._hook("before_stop")
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.disarm_on_demand()
        await self._stop_processes(list(self.processes.values()))
        self._transition(WatcherState.STOPPED)  # STOPPING -> STOPPED
        self.close_streams()
        await self._hook("after_stop")
        self.publish("stop", {"time": time.time()})

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
                result = await self._reload_by_hup(old)
            elif sequential:
                result = await self._reload_sequential(old)
            else:
                result = await self._replace_all()
        self.publish("reload", {"time": time.time()})
        return result

    async def _reload_by_hup(self, old: list[Process]) -> dict[str, list[int]]:
        """send_hup: SIGHUP makes a process re-read its own files, but cannot change its
        command, environment or working directory: outdated processes are replaced (one at
        a time, without downtime), the others get SIGHUP."""
        outdated = self.outdated()
        stopped, started = [], []
        for proc in old:
            if proc.pid not in outdated:
                await self._signal_process(proc, signals.SIGHUP)
            elif (new := await self._replace_outdated(proc)) is not None:
                stopped.append(proc.pid)
                started.append(new.pid)
        kept = [p.pid for p in old if p.pid not in stopped]
        return {"stopped": stopped, "started": started, "kept": kept}

    async def _reload_sequential(self, old: list[Process]) -> dict[str, list[int]]:
        started: list[int] = []
        self.last_spawn_error = None
        for index, proc in enumerate(old):
            await self._stop_processes([proc])
            new = await self._spawn_one()
            if new is None:  # a typo in cmd: the others keep serving
                kept = [p.pid for p in old[index + 1 :]]
                log.error(
                    "%s: reload: the new process could not be spawned: the %d others are kept "
                    "(fix the configuration, then reload)",
                    self.name,
                    len(kept),
                )
                why = self._spawn_failure("the new process could not be spawned")
                self._reload_kept(why, kept)
                stopped = [p.pid for p in old[: index + 1]]
                return {"stopped": stopped, "started": started, "kept": kept}
            started.append(new.pid)
            if self.config.warmup_delay:
                await asyncio.sleep(float(self.config.warmup_delay))
        self.reload_failed = None
        return {"stopped": [p.pid for p in old], "started": started, "kept": []}

    def _spawn_failure(self, what: str) -> str:
        """``what`` with the error of the last failed spawn, if any."""
        return f"{what} ({self.last_spawn_error})" if self.last_spawn_error else what

    def _reload_kept(self, why: str, kept: list[int]) -> None:
        """A reload failed (``why``) and kept the running processes ``kept``: say so in
        ``status`` (:meth:`reload_failed_detail`) until a reload succeeds or a stop."""
        count = "process is" if len(kept) == 1 else "processes are"
        self.reload_failed = {
            "error": why,
            "kept": kept,
            "time": time.time(),
            "reason": f"{why}: the {len(kept)} running {count} kept (fix the configuration, "
            "then reload)",
        }

    def incr(self, nb: int = 1) -> Awaitable[int]:
        """Raise the target now (a singleton keeps its count; above the process limit:
        MessageError, nothing changes); returns the scaling of the processes, which cannot be
        refused."""
        if not self.singleton:
            self.numprocesses = self.check_count(self.numprocesses + nb)
        return self._scale()

    def decr(self, nb: int = 1) -> Awaitable[int]:
        """Lower the target now (not below 0; a singleton keeps its count); returns the
        scaling of the processes."""
        if not self.singleton:
            self.numprocesses = max(0, self.numprocesses - nb)
        return self._scale()

    async def _scale(self) -> int:
        async with self._lock:
            if self.state is WatcherState.ACTIVE:
                await self._manage_processes()
            return self.numprocesses

    def kill(
        self,
        signum: int | None = None,
        pid: int | None = None,
        graceful_timeout: float | None = None,
    ) -> Awaitable[None]:
        """Pick the processes now (an unknown ``pid`` raises MessageError); returns their
        stop, which cannot be refused."""
        procs = [self._process(pid)] if pid is not None else list(self.processes.values())
        return self._stop_processes(procs, signum, graceful_timeout)

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

    def get_options(self, keys: Sequence[str]) -> dict[str, Any]:
        options = self.options()
        result = {}
        for key in keys:
            if key not in options:
                raise MessageError(f"{key!r} option not found")
            result[key] = options[key]
        return result

    def set_options(self, options: Mapping[str, Any]) -> Awaitable[None]:
        """Check ``options`` against the configuration and take them at once: a wrong key or
        value, a rule broken (a singleton's count), a hook or stream class that does not import
        raise ConfigError, a count above the process limit MessageError, and nothing changes.
        Returns the reload or scaling of the processes the change needs, which cannot be
        refused."""
        config = apply_watcher_options(self.config, options)
        check_watcher(config)
        self.check_count(config.numprocesses)
        change = self.take_config(config)
        if "numprocesses" in options:  # the live target, also when the config had that count
            self.numprocesses = self.clamp(config.numprocesses)  # (an incr/decr since)
        for _key in options:
            self.publish("updated", {"time": time.time()})
        return self._converge_to_config(change is not None and change.restart)

    async def _converge_to_config(self, needs_reload: bool) -> None:
        async with self._lock:
            if self.state is WatcherState.STOPPED:
                return
            if needs_reload:
                await self._replace_all()
            else:
                await self._manage_processes()

    async def replace_config(self, config: WatcherConfig, restart: bool) -> None:
        """reloadconfig: take a new configuration; restart processes gracefully if needed."""
        async with self._lock:
            self.take_config(config)
            self.numprocesses = self.clamp(config.numprocesses)  # the file's count wins
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
        self.last_spawn_error = None
        new = [p for p in await self._spawn_many(self.numprocesses) if p is not None]
        why = await self._new_ones_failed(new) if old else None
        if why is not None:  # a typo in cmd: stopping the old ones would stop the service
            log.error(
                "%s: reload: %s: the %d running processes are kept (fix the configuration, "
                "then reload)",
                self.name,
                why,
                len(old),
            )
            self._reload_kept(self._spawn_failure(why) if not new else why, [p.pid for p in old])
            return {"stopped": [], "started": [], "kept": [p.pid for p in old]}
        self.reload_failed = None
        await self._stop_processes(old)
        return {"stopped": [p.pid for p in old], "started": [p.pid for p in new], "kept": []}

    async def _new_ones_failed(self, new: list[Process]) -> str | None:
        """Why none of the ``new`` processes of a reload is up (None if one is): none could be
        spawned, or each exited before it was up (still running after min_uptime, or
        ``warmup_delay`` if longer), the rule of a failed start and of reload_outdated."""
        if not new:
            return "no new process could be spawned"
        up_after = max(self.restart_policy.min_uptime, float(self.config.warmup_delay or 0))
        exited = await asyncio.gather(*(p.wait(up_after) for p in new))
        if all(exited):
            return f"the new processes exited within {up_after:g} s of their start"
        return None

    def stats(self, pid: int | None = None, extended: bool = False) -> dict[str, Any]:
        procs = [self._process(pid)] if pid is not None else list(self.processes.values())
        result: dict[str, Any] = {}
        for proc in procs:
            info = proc.info()
            if extended and isinstance(info, dict) and "extended_stats" in self._hooks:
                hook = self._hooks["extended_stats"]
                try:
                    hook.func(
                        watcher=self,
                        arbiter=self.context.hook_arbiter,
                        hook_name="extended_stats",
                        pid=proc.pid,
                        stats=info,
                    )
                except Exception:  # the stats are still answered, without the hook's part
                    log.exception("extended_stats hook of watcher %s failed", self.name)
            result[str(proc.pid)] = info
        return result
