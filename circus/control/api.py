"""What control commands may call on the arbiter and its watchers.

This is the contract between ``circus/control/commands/`` and ``circus/arbiter.py`` /
``circus/watcher.py``: commands use only these members, the arbiter implements all of them.
Everything runs on the arbiter's asyncio loop. Methods that change state are coroutines; the
arbiter serialises conflicting ones per watcher itself (a command waits its turn, it never gets
"already running" errors), so commands need no locking of their own.

Errors: unknown watcher -> :class:`circus.errors.MessageError` ``"program NAME not found"``;
duplicate name -> :class:`circus.errors.AlreadyExistError`; bad option -> ConfigError/MessageError
naming the key. The controller maps them to the wire (errno + reason).

Refusals come before the reply, ``waiting`` or not. So the methods that start a long operation
without ``waiting`` (``incr``, ``decr``, ``set_options``, ``kill``, ``rm_watcher``,
``reload_config``) are plain functions: called, they check and take the change at once (raising
if it is refused, nothing changed then) and return an awaitable for the rest of the work (scaling,
stopping, reloading processes), which cannot be refused. A command awaits it, or leaves it to run
in the background (:meth:`circus.control.commands.base.Command.finish`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from circus.output_tail import OutputTail


class WatcherAPI(Protocol):
    # Read-only for commands: changes go through set_options, incr, decr.
    @property
    def name(self) -> str:
        """As configured (case preserved)."""

    @property
    def singleton(self) -> bool: ...

    @property
    def numprocesses(self) -> int:
        """The configured target."""

    @property
    def stop_signal(self) -> int: ...

    @property
    def graceful_timeout(self) -> float: ...

    def status(self) -> str:
        """``stopped`` | ``starting`` | ``active`` | ``stopping``."""

    def outdated_pids(self) -> list[int]:
        """Pids of processes spawned from another configuration (docs/upgrades.md)."""

    def gave_up_detail(self) -> dict[str, Any] | None:
        """Why the restart policy gave up (``rule``, ``failures``, ``limit``, ``last_exit``,
        ``error``, ``time``, ``reason``); None if it did not since the last start."""

    def reload_failed_detail(self) -> dict[str, Any] | None:
        """Why the last reload kept the running processes (``error``, ``kept``, ``time``,
        ``reason``); None if it did not, until a reload succeeds or a stop."""

    def hook_failed_detail(self) -> dict[str, dict[str, Any]] | None:
        """``{hook name: detail}`` of the hooks whose last run raised (``hook``, ``path``,
        ``error``, ``ignored``, ``time``, ``reason``); None if none did."""

    def flapping_detail(self) -> dict[str, Any] | None:
        """Why the watcher is stopped as flapping and when it retries (``retry``,
        ``max_retry``, ``exits``, ``within``, ``window``, ``retry_in``, ``last_exit``, ``time``,
        ``retry_at``, ``reason``); None if it is not."""

    def pids(self) -> list[int]:
        """Pids of live processes, in spawn order."""

    output_tail: OutputTail  # the end of its output, for ``tail``

    async def start(self) -> dict[str, list[int]]:
        """Start (no-op if active). Returns ``{"started": [...], "kept": [...]}``."""

    async def stop(self) -> None:
        """Graceful stop: stop_signal, then SIGKILL after graceful_timeout."""

    async def restart(self) -> dict[str, list[int]]:
        """Stop then start. Returns ``{"stopped", "started", "kept"}``."""

    async def reload(self, graceful: bool = True, sequential: bool = False) -> dict[str, list[int]]:
        """send_hup, or spawn-new-then-stop-oldest, or sequential; ``graceful=False`` restarts.
        Returns ``{"stopped", "started", "kept"}``."""

    def incr(self, nb: int = 1) -> Awaitable[int]:
        """Add processes; the awaitable gives the new numprocesses (singleton: unchanged)."""

    def decr(self, nb: int = 1) -> Awaitable[int]:
        """Remove processes (clamped at 0); the awaitable gives the new numprocesses."""

    def set_options(self, options: Mapping[str, Any]) -> Awaitable[None]:
        """Check the options against the configuration (ConfigError naming each bad key, hook
        or stream class) and take them; emits ``updated`` per key; the awaitable reloads or
        scales the processes as the change needs."""

    def options(self) -> dict[str, Any]:
        """Every option of the watcher (the manual's names) plus its free-form keys."""

    def get_options(self, keys: Sequence[str]) -> dict[str, Any]:
        """Selected options; unknown key -> MessageError ``"'KEY' option not found"``."""

    async def signal(
        self,
        signum: int,
        pid: int | None = None,
        childpid: int | None = None,
        children: bool = False,
        recursive: bool = False,
    ) -> None:
        """Send a signal with the routing rules of the original ``signal`` command."""

    def kill(
        self,
        signum: int | None = None,
        pid: int | None = None,
        graceful_timeout: float | None = None,
    ) -> Awaitable[None]:
        """signum (default stop_signal) then SIGKILL after the timeout; respawn per policy.
        An unknown ``pid`` raises MessageError at the call."""

    def stats(self, pid: int | None = None, extended: bool = False) -> dict[str, Any]:
        """``{str(pid): info}`` with the original's info fields (plus age, started, wid,
        children); a dead process maps to ``"No such process (stopped?)"``. Unknown pid ->
        MessageError ``"process 'PID' not found in 'NAME'"``."""


class ArbiterAPI(Protocol):
    # Read-only for commands: the settings of the configuration circusd runs.
    @property
    def endpoint(self) -> str: ...

    @property
    def pubsub_endpoint(self) -> str: ...

    @property
    def stats_endpoint(self) -> str | None: ...

    @property
    def multicast_endpoint(self) -> str | None: ...

    @property
    def check_delay(self) -> float: ...

    @property
    def endpoint_owner(self) -> str | None: ...

    @property
    def pid(self) -> int: ...

    @property
    def watchers(self) -> Sequence[WatcherAPI]:
        """All watchers (plugins and circusd-stats included), sorted by name."""

    def numwatchers(self) -> int:
        """The number of watchers (plugins and circusd-stats included)."""

    def numprocesses(self) -> int:
        """The number of live processes over all watchers."""

    def get_watcher(self, name: str) -> WatcherAPI:
        """Case-insensitive lookup; MessageError ``"program NAME not found"``."""

    async def kernel_view(self) -> dict[str, Any]:
        """What papa-kernel holds: ``available``, ``processes``, ``sockets`` (kernel.py)."""

    def match_watchers(self, pattern: str, method: str = "glob") -> Sequence[WatcherAPI]:
        """``simple`` | ``glob`` | ``regex`` (case-insensitive). Unknown method ->
        MessageError ``"unknown match method X"``; no match -> ``"program X not found"``."""

    async def add_watcher(
        self,
        name: str,
        cmd: str,
        args: str | list[str] | None = None,
        options: Mapping[str, Any] | None = None,
        start: bool = False,
    ) -> WatcherAPI:
        """Create a watcher from converted options; started only if ``start``."""

    def rm_watcher(self, name: str, nostop: bool = False) -> Awaitable[None]:
        """Remove a watcher at once; the awaitable stops its processes unless ``nostop``."""

    async def start_watchers(self, watchers: Sequence[WatcherAPI] | None = None) -> None:
        """None: every watcher with autostart (priority order)."""

    async def stop_watchers(self, watchers: Sequence[WatcherAPI] | None = None) -> None:
        """None: all watchers (reverse priority order)."""

    async def restart(self, watchers: Sequence[WatcherAPI] | None = None) -> None:
        """Stop and start the given (default all) watchers."""

    async def reload(self, graceful: bool = True, sequential: bool = False) -> None:
        """Reload every watcher (priority order)."""

    def reload_config(self) -> Awaitable[dict[str, list[str]]]:
        """Re-read the config file (ConfigError listing every problem at the call); the
        awaitable converges and gives what was added/removed/changed."""

    async def quit(self, stop_workers: bool = False) -> None:
        """Stop circusd. Kernel-hosted workers keep running unless ``stop_workers``."""

    def sockets_info(self) -> list[dict[str, Any]]:
        """``{fd, name, backlog, host, port}`` or ``{fd, name, backlog, path}``, sorted by fd."""

    def global_options(self) -> dict[str, Any]:
        """endpoint, pubsub_endpoint, stats_endpoint, check_delay, multicast_endpoint, ..."""

    def circusd_info(self) -> dict[str, Any]:
        """Process info of circusd itself (``dstats``)."""

    def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        """Publish an event on the PUB socket; ``topic`` is complete (``watcher.web.spawn``)."""
