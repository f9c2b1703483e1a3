"""The recent CPU/memory history of watchers and processes, kept by circushttpd for the charts.

Fed by circusd-stats' stream: topic ``stat.<watcher>`` (the watcher's sum) and
``stat.<watcher>.<pid>`` (one process), JSON bodies with ``cpu`` and ``mem`` (percent) and
usually ``time``, as the original Circus publishes them. Each series keeps the points of the
last :data:`WINDOW` seconds, at most :data:`MAX_POINTS`; a reaped process or a removed
watcher is forgotten at once, a series without a point for a whole window is dropped, so the
memory stays bounded by what is alive.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

#: Seconds of history kept per series.
WINDOW = 300.0
#: Points kept per series (one stats message per second over the window, twice over).
MAX_POINTS = 600
#: Series kept at most (watchers + processes): a bound against a flood of made-up topics.
MAX_SERIES = 20000

Point = tuple[float, float | None, float | None]  # (time, cpu, mem)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:  # circusd-stats sends "N/A" for a process it could not read
        return None
    return number if math.isfinite(number) else None


class StatsHistory:
    """Series of ``(time, cpu, mem)`` per watcher and per process (see the module docstring)."""

    def __init__(self, window: float = WINDOW, max_points: int = MAX_POINTS):
        self.window = window
        self.max_points = max_points
        self._watchers: dict[str, deque[Point]] = {}
        self._processes: dict[tuple[str, int], deque[Point]] = {}

    def add_message(self, topic: str, payload: Any) -> dict[str, Any] | None:
        """Record one stats message; the point as relayed to browsers, or None if unusable."""
        parts = topic.split(".")
        if len(parts) < 2 or parts[0] != "stat" or not isinstance(payload, dict):
            return None
        watcher, pid = parts[1], None
        if len(parts) >= 3:
            if not parts[2].isdigit():
                return None
            pid = int(parts[2])
        cpu, mem = _number(payload.get("cpu")), _number(payload.get("mem"))
        if cpu is None and mem is None:
            return None
        stamp = _number(payload.get("time")) or time.time()
        self.add(watcher, pid, (stamp, cpu, mem))
        return {"watcher": watcher, "pid": pid, "time": stamp, "cpu": cpu, "mem": mem}

    def add(self, watcher: str, pid: int | None, point: Point) -> None:
        series = self._series(watcher, pid)
        if series is None:
            return
        series.append(point)
        cutoff = point[0] - self.window
        while series and series[0][0] < cutoff:
            series.popleft()

    def _series(self, watcher: str, pid: int | None) -> deque[Point] | None:
        table: dict[Any, deque[Point]] = self._watchers if pid is None else self._processes
        key: Any = watcher if pid is None else (watcher, pid)
        series = table.get(key)
        if series is None:
            if len(self._watchers) + len(self._processes) >= MAX_SERIES:
                self.prune()
                if len(self._watchers) + len(self._processes) >= MAX_SERIES:
                    return None
            series = table[key] = deque(maxlen=self.max_points)
        return series

    def prune(self, now: float | None = None) -> None:
        """Drop the series whose last point is older than the window."""
        cutoff = (now or time.time()) - self.window
        tables: tuple[dict[Any, deque[Any]], ...] = (self._watchers, self._processes)
        for table in tables:
            for key in [k for k, s in table.items() if not s or s[-1][0] < cutoff]:
                del table[key]

    def forget_process(self, watcher: str, pid: Any) -> None:
        if isinstance(pid, int):
            self._processes.pop((watcher, pid), None)

    def forget_watcher(self, watcher: str) -> None:
        self._watchers.pop(watcher, None)
        for key in [k for k in self._processes if k[0] == watcher]:
            del self._processes[key]

    def watcher_series(self, watcher: str) -> list[list[float | None]]:
        return [list(p) for p in self._watchers.get(watcher, ())]

    def process_series(self, watcher: str) -> dict[str, list[list[float | None]]]:
        return {
            str(pid): [list(p) for p in s]
            for (w, pid), s in self._processes.items()
            if w == watcher
        }

    def all_watchers(self) -> dict[str, list[list[float | None]]]:
        return {name: [list(p) for p in s] for name, s in self._watchers.items()}

    def latest(self, watcher: str, pid: int | None = None) -> tuple[float | None, float | None]:
        """The newest ``(cpu, mem)`` of a watcher or process, ``(None, None)`` if none recent."""
        series = self._watchers.get(watcher) if pid is None else self._processes.get((watcher, pid))
        if not series or series[-1][0] < time.time() - self.window:
            return None, None
        return series[-1][1], series[-1][2]
