"""circusd's side of systemd's ``Type=notify`` protocol (the datagrams themselves are
:mod:`papa_kernel.sdnotify`, stdlib only and shared with the kernel).

What circusd reports (docs/deployment.md):

- ``READY=1`` once it has converged: the kernel is connected, the sockets are bound, the
  watchers are started and the control endpoint is bound (the end of ``Arbiter.astart``);
- ``STATUS=`` with the watcher counts by state and the number of processes, at READY, after a
  reload, and then with each watchdog ping when it changed;
- ``RELOADING=1`` when a reload starts (SIGHUP, ``systemctl reload``, ``circusctl
  reloadconfig``) and ``READY=1`` when it has converged to the new configuration;
- ``STOPPING=1`` when it starts to quit;
- ``WATCHDOG=1`` every half ``WatchdogSec=`` from the asyncio loop: a hung loop stops pinging.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from papa_kernel.sdnotify import Notifier

log = logging.getLogger(__name__)


class _Watcher(Protocol):
    def status(self) -> str: ...

    def pids(self) -> Iterable[int]: ...


def status_line(watchers: Iterable[_Watcher]) -> str:
    """``3 watchers (2 active, 1 stopped), 7 processes``."""
    states: collections.Counter[str] = collections.Counter()
    processes = 0
    for watcher in watchers:
        states[watcher.status()] += 1
        processes += len(list(watcher.pids()))
    count = sum(states.values())
    detail = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    noun = "watcher" if count == 1 else "watchers"
    return f"{count} {noun}" + (f" ({detail})" if detail else "") + f", {processes} processes"


class CircusdNotifier:
    """Turns the arbiter's lifecycle (``ready``, ``reloading``, ``stopping``) into
    notifications. A no-op when circusd was not started by systemd."""

    def __init__(
        self, watchers: Callable[[], Iterable[_Watcher]], notifier: Notifier | None = None
    ) -> None:
        self._watchers = watchers
        self.notifier = notifier or Notifier()
        self._status = ""
        self._watchdog: asyncio.Task[None] | None = None

    def __call__(self, event: str) -> None:
        """The arbiter's lifecycle callback."""
        if not self.notifier.enabled:
            return
        if event == "ready":
            self._status = status_line(self._watchers())
            self.notifier.ready(self._status)
            self._start_watchdog()
        elif event == "reloading":
            self.notifier.reloading()
        elif event == "stopping":
            self.notifier.stopping(f"stopping: {status_line(self._watchers())}")
            if self._watchdog is not None:
                self._watchdog.cancel()
        else:
            log.debug("unknown lifecycle event %r", event)

    def _start_watchdog(self) -> None:
        interval = self.notifier.watchdog_interval
        if interval is not None and self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._ping(interval))

    async def _ping(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            status = status_line(self._watchers())
            if status != self._status:
                self._status = status
                self.notifier.status(status)
            self.notifier.watchdog()
