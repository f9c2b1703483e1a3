"""What the two mixins of :class:`~circus.watcher.Watcher` use of the watcher they are part of.

:class:`~circus.watcher_commands.WatcherCommands` (the control API, graceful stopping) and
:class:`~circus.watcher_outdated.OutdatedWorkers` (spawn records, outdated processes) are kept
out of ``watcher.py`` to keep each module readable, but their methods run on a ``Watcher`` and
use its engine. :class:`WatcherCore` lists that engine, typed; the mixins subclass it for the
type checker only (at run time their base is ``object``), so mypy checks every use in a mixin
and that ``Watcher`` defines each member with a compatible type. A member a mixin needs from
the watcher (or from the other mixin) is added here; an attribute a mixin assigns is
declared in that mixin's class body.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from circus import restart_policy as policy
    from circus import spawn_records
    from circus.config import WatcherChange, WatcherConfig
    from circus.hooks import Hook
    from circus.hosts.base import ProcessHost
    from circus.process import Process
    from circus.util.tasks import TaskSet
    from circus.watcher_context import WatcherContext
    from circus.watcher_state import WatcherState


class WatcherCore(Protocol):
    """The watcher's state and engine, as its mixins see it (defined by ``Watcher``)."""

    name: str
    config: WatcherConfig
    context: WatcherContext
    host: ProcessHost
    processes: dict[int, Process]  # pid -> process, in spawn order
    state: WatcherState
    tasks: TaskSet
    _lock: asyncio.Lock
    _hooks: dict[str, Hook]
    _timers: dict[int, asyncio.TimerHandle]  # pid -> max_age timer

    @property
    def singleton(self) -> bool: ...

    @property
    def stop_signal(self) -> int: ...

    @property
    def graceful_timeout(self) -> float: ...

    @property
    def on_demand(self) -> bool: ...

    @property
    def restart_policy(self) -> policy.RestartPolicy: ...

    # --- the engine (watcher.py) ---------------------------------------------------------------

    def _transition(self, new: WatcherState) -> None: ...

    def publish(self, event: str, payload: dict[str, Any]) -> None: ...

    async def _hook(self, name: str, **kwargs: Any) -> bool: ...

    def pids(self) -> list[int]: ...

    def options(self) -> dict[str, Any]: ...

    def clamp(self, numprocesses: int) -> int: ...

    def check_count(self, numprocesses: int) -> int: ...

    def take_config(self, config: WatcherConfig) -> WatcherChange | None: ...

    def close_streams(self) -> None: ...

    def disarm_on_demand(self) -> None: ...

    def current_fingerprint(self, wid: int) -> spawn_records.Fingerprint | None: ...

    def common_fingerprint(self) -> spawn_records.Fingerprint | None: ...

    async def _manage_processes(self) -> list[int]: ...

    async def _spawn_many(self, count: int) -> list[Process | None]: ...

    async def _spawn_one(
        self, wid: int | None = None, spawned_in: int | None = None
    ) -> Process | None: ...

    # --- one mixin's, used by the other --------------------------------------------------------

    async def _stop_processes(
        self,
        procs: Sequence[Process],
        signum: int | None = None,
        graceful_timeout: float | None = None,
    ) -> None: ...

    def outdated(self) -> dict[int, list[str]]: ...

    async def _records_dropped(self, procs: Iterable[Process]) -> None: ...

    async def _replace_outdated(self, old: Process) -> Process | None: ...
