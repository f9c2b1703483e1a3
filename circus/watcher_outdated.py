"""Spawn records and outdated processes of a watcher (a mixin of :class:`circus.watcher.Watcher`).

- **Records**: when a kernel-hosted process is spawned, the fingerprint of its SpawnSpec is
  stored in the kernel (:mod:`circus.spawn_records`); it is deleted when the process is gone
  and its wid is not reused, so the kernel can still become idle.
- **Outdated**: a process whose recorded fingerprint differs from the one the current
  configuration gives its wid. Only adopted processes can be outdated in practice (every other
  configuration change replaces the processes), but the rule is the same for all.
- **Replacement** (``reload_outdated``, ``circusd --reload-outdated``, and ``reload`` of a
  ``send_hup`` watcher): one process at a time, start the new one, wait until it is up (still
  running after the watcher's ``min_uptime`` (1 s by default), or ``warmup_delay`` if longer),
  then stop the outdated one gracefully. The watcher's lock is held for one replacement at a
  time, so commands wait at most for one step. If the new process dies before it is up, the
  replacement stops there and the outdated processes keep serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from circus import spawn_records
from circus.errors import KernelError
from circus.process import ProcessState
from circus.watcher_state import WatcherState

if TYPE_CHECKING:
    from circus.process import Process
    from circus.watcher_core import WatcherCore

    _Core = WatcherCore  # type-checked against the watcher's engine (see circus.watcher_core)
else:
    _Core = object

log = logging.getLogger("circus.watcher")


class OutdatedWorkers(_Core):
    """What the processes were spawned from; reporting and replacing outdated ones."""

    _outdated_task: asyncio.Task[None] | None  # assigned here, first set by Watcher.__init__
    _dropping: dict[str, asyncio.Task[None]]  # process name -> the delete of its record

    # --- records in the host --------------------------------------------------------------

    async def _record_spawn(self, proc: Process, fingerprint: spawn_records.Fingerprint) -> None:
        proc.fingerprint = fingerprint
        if not self.host.persistent:
            return  # nothing outlives circusd: the in-memory fingerprint is enough
        value = spawn_records.encode(proc.pid, fingerprint)
        try:
            await self.host.set_value(spawn_records.record_name(proc.name), value)
        except KernelError as exc:
            log.warning(
                "%s: cannot record what process %d was spawned from: %s", self.name, proc.pid, exc
            )

    async def _drop_record(self, name: str) -> None:
        """Delete the record of a process that is gone, unless its wid is in use again.
        (Checked right before the delete is sent: a respawn registers its process before it
        sends its own record, so the delete can never overtake it.)"""
        owner = self.context.registry.owner(name)  # not a scan of every process: O(1)
        if owner is not None and owner[1].alive:
            return
        with contextlib.suppress(KernelError):
            await self.host.set_value(spawn_records.record_name(name), None)

    def _drop_record_soon(self, proc: Process) -> None:
        """The exit of ``proc`` was applied: delete its record (once per process, whatever
        ended it; a stop waits for it with :meth:`_records_dropped`)."""
        if not self.host.persistent:
            return
        name = proc.name
        task = self.tasks.spawn(self._drop_record(name), "dropping a spawn record")
        self._dropping[name] = task

        def dropped(done: asyncio.Task[None]) -> None:
            if self._dropping.get(name) is done:  # not a later delete of the same name
                del self._dropping[name]

        task.add_done_callback(dropped)

    async def _records_dropped(self, procs: Iterable[Process]) -> None:
        """Wait until the records of ``procs`` (deleted as their exits arrived) are gone."""
        tasks = [task for p in procs if (task := self._dropping.get(p.name)) is not None]
        if tasks:
            await asyncio.wait(tasks)

    # --- outdated processes ---------------------------------------------------------------

    def outdated(self) -> dict[int, list[str]]:
        """pid -> the SpawnSpec fields that differ from what the configuration says now,
        for every running process known to be outdated (unknown ones are not included)."""
        result = {}
        common = self.common_fingerprint()  # the usual case: one fingerprint for every wid
        for proc in self.processes.values():
            recorded = proc.fingerprint
            if recorded is None or recorded is common or not proc.alive:
                continue
            current = common or self.current_fingerprint(proc.wid)
            if current is None:
                continue
            changed = spawn_records.changed_fields(recorded, current)
            if changed:
                result[proc.pid] = changed
        return result

    def outdated_pids(self) -> list[int]:
        return sorted(self.outdated())

    def reload_outdated_enabled(self) -> bool:
        return bool(self.config.reload_outdated or self.context.reload_outdated())

    def report_outdated(self) -> None:
        """After adoption: a warning per outdated process, the ``outdated`` event, and the
        replacement when ``reload_outdated`` is on."""
        outdated = self.outdated()
        if not outdated:
            return
        enabled = self.reload_outdated_enabled()
        advice = "replacing it" if enabled else "reload the watcher, or set reload_outdated"
        processes = []
        for pid, changed in sorted(outdated.items()):
            proc = self.processes[pid]
            log.warning(
                "%s: process %d (wid %d) is outdated: it was spawned with another %s (%s)",
                self.name,
                pid,
                proc.wid,
                ", ".join(changed),
                advice,
            )
            processes.append({"pid": pid, "wid": proc.wid, "changed": changed})
        self.publish(
            "outdated", {"pids": sorted(outdated), "processes": processes, "time": time.time()}
        )
        if enabled:
            self.schedule_reload_outdated()

    # --- replacing them -------------------------------------------------------------------

    def schedule_reload_outdated(self) -> None:
        """Replace the outdated processes in the background, one at a time."""
        task = self._outdated_task
        if task is None or task.done():
            self._outdated_task = self.tasks.spawn(
                self._reload_outdated(), "replacing outdated workers"
            )

    def cancel_reload_outdated(self) -> None:
        if self._outdated_task is not None:
            self._outdated_task.cancel()
            self._outdated_task = None

    async def _reload_outdated(self) -> None:
        """The background replacement (a task of ``self.tasks``, which logs its failure)."""
        replaced = 0
        while True:
            async with self._lock:
                if self.state is not WatcherState.ACTIVE:
                    break
                outdated = self.outdated()
                if not outdated:
                    break
                running = [self.processes[pid] for pid in outdated]
                running = [p for p in running if p.state is ProcessState.RUNNING]
                if not running:
                    break  # the rest is being stopped already
                oldest = min(running, key=lambda p: p.started)
                if not await self._replace_outdated(oldest):
                    break  # it did not come up: the outdated ones keep serving
                replaced += 1
        if replaced:
            log.info("%s: replaced %d outdated processes", self.name, replaced)

    async def _replace_outdated(self, old: Process) -> Process | None:
        """Replace one process (lock held): the new one first, then the old one once the new
        one is up. A singleton cannot have two processes: stop first, then spawn. Returns the
        new process, or None if it did not come up (the old one is kept then)."""
        names = (self.name, old.pid)
        if self.singleton:
            log.info("%s: replacing outdated process %d (singleton: stopped first)", *names)
            await self._stop_processes([old])
            return await self._spawn_one(old.wid)
        new = await self._spawn_one()
        if new is None:
            log.error("%s: cannot replace outdated process %d: the spawn failed", *names)
            return None
        log.info(
            "%s: replacing outdated process %d (wid %d) by %d (wid %d)",
            self.name,
            old.pid,
            old.wid,
            new.pid,
            new.wid,
        )
        up_after = max(self.restart_policy.min_uptime, float(self.config.warmup_delay or 0))
        if await new.wait(up_after):
            log.error(
                "%s: the replacement %d exited (%s) within %.1fs: outdated processes kept",
                self.name,
                new.pid,
                new.exit_code,
                up_after,
            )
            return None
        await self._stop_processes([old])
        return new
