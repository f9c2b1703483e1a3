"""What circus-top shows: the latest stats by watcher, laid out as text lines.

Kept apart from curses (:mod:`circus.cli.circus_top`) so the layout is testable as plain text.
The layout is the original's: per watcher the processes by CPU (the 10 busiest), then the
average CPU, the summed memory and the oldest age; the ``circus`` group shows circusd and
circusd-stats (``PID (name)``); ``sockets`` shows hits per address and their sum. A process (or
a whole watcher) not heard of for ``process_timeout`` seconds is dropped.
"""

from __future__ import annotations

import time
from typing import Any

MAX_PROCESSES = 10  # busiest processes shown per watcher, as the original
HIDDEN = ("circusd-stats", "circushttpd")  # shown in the "circus" group instead
TOTAL = "all"  # the subtopic of a watcher's aggregate


def _number(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else str(value)


def _cpu_key(row: tuple[str, str, str, str]) -> float:
    try:
        return float(row[1])
    except ValueError:
        return -1.0


class TopModel:
    """The latest stat of every (watcher, subtopic), with the time it came."""

    def __init__(self, process_timeout: float = 3.0) -> None:
        self.process_timeout = process_timeout
        self.watchers: dict[str, dict[str, dict[str, Any]]] = {}
        self._seen: dict[tuple[str, str], float] = {}

    def update(
        self, watcher: str, subtopic: str | None, stat: Any, now: float | None = None
    ) -> None:
        if not isinstance(stat, dict):
            return
        key = (watcher, subtopic or TOTAL)
        self.watchers.setdefault(watcher, {})[key[1]] = stat
        self._seen[key] = time.monotonic() if now is None else now

    def expire(self, now: float | None = None) -> None:
        """Drop what was not refreshed within ``process_timeout`` seconds."""
        limit = (time.monotonic() if now is None else now) - self.process_timeout
        for key, seen in list(self._seen.items()):
            if seen < limit:
                del self._seen[key]
                entries = self.watchers.get(key[0], {})
                entries.pop(key[1], None)
                if not entries:
                    self.watchers.pop(key[0], None)

    def lines(self, width: int) -> list[str]:
        """The screen as lines of at most ``width - 1`` characters."""
        if not self.watchers:
            return ["Circus Top", "", "*** Waiting for data ***"]
        rule = "-" * max(width - 1, 0)
        out = ["Circus Top", rule]
        for name in sorted(self.watchers):
            if name in HIDDEN:
                continue
            out.append(name)
            entries = self.watchers[name]
            out.extend(self._sockets(entries) if name == "sockets" else self._processes(entries))
            out.append("")
        out.append(rule)
        return [line[: max(width - 1, 0)] for line in out]

    @staticmethod
    def _columns(*cells: tuple[int, str]) -> str:
        line = ""
        for column, text in cells:
            line = line.ljust(column) + text + " "
        return line.rstrip()

    def _processes(self, entries: dict[str, dict[str, Any]]) -> list[str]:
        out = [self._columns((3, "PID"), (28, "CPU (%)"), (48, "MEMORY (%)"), (68, "AGE (s)"))]
        rows = []
        total = None
        for subtopic, stat in entries.items():
            cpu, mem, age = (_number(stat.get(k, "N/A")) for k in ("cpu", "mem", "age"))
            if subtopic == TOTAL:
                total = (f"{cpu} (avg)", f"{mem} (sum)", f"{age} (older)")
                continue
            pid = str(stat.get("pid", subtopic))
            if stat.get("name"):
                pid = f"{pid} ({stat['name']})"
            rows.append((pid, cpu, mem, age))
        rows.sort(key=_cpu_key, reverse=True)
        for pid, cpu, mem, age in rows[:MAX_PROCESSES]:
            out.append(self._columns((2, pid), (29, cpu), (49, mem), (69, age)))
        if len(rows) > MAX_PROCESSES:
            out.append(self._columns((2, f"... {len(rows) - MAX_PROCESSES} more")))
        if total is not None:
            out.append(self._columns((29, total[0]), (49, total[1]), (69, total[2])))
        return out

    def _sockets(self, entries: dict[str, dict[str, Any]]) -> list[str]:
        out = [self._columns((3, "ADDRESS"), (28, "HITS"))]
        total = 0
        rows = []
        for subtopic, stat in entries.items():
            if subtopic == TOTAL or "addresses" in stat:
                total = stat.get("reads", 0)
                continue
            rows.append((stat.get("reads", 0), str(stat.get("address", "?"))))
        rows.sort(key=lambda row: (-row[0] if isinstance(row[0], int) else 0, row[1]))
        for reads, address in rows:
            out.append(self._columns((2, address), (29, f"{reads:>3}")))
        out.append(self._columns((29, f"{total:>3} (sum)")))
        return out
