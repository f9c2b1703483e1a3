"""Time-based rotation of a log file, driven by the timestamps of the output.

Periods are aligned to the clock (local time, or UTC with ``utc``): ``H`` with interval 6 gives
00:00-06:00, 06:00-12:00, ...; ``D`` and ``midnight`` start at midnight; ``W0``-``W6`` start at
midnight of that weekday (0 = Monday). (Python's logging handler and the original Circus count
``S/M/H/D`` from whenever the file was opened; aligned periods put each hour in its own file.)

A chunk whose timestamp is at or after the end of the file's period closes the file: it is
renamed ``<path>.<start of its period>`` (suffix formats of the original Circus: ``%Y%m%d%H%M%S``
for S, ``%Y%m%d%H%M`` for M, ``%Y%m%d%H`` for H, ``%Y%m%d`` for D, midnight and W). Using the
chunk's timestamp, not the clock, files replayed output by the time it was written. Chunks older
than the current period (replays, clock steps) go to the current file: files are never reopened.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import re

from circus.streams.logfile import LogFile

_EPOCH = datetime.datetime(1970, 1, 1)
_DAY = 86400
_THURSDAY = 3  # 1970-01-01 was a Thursday; weekday numbers as datetime.weekday()

_SECONDS = {"S": 1, "M": 60, "H": 3600, "D": _DAY, "MIDNIGHT": _DAY}
_SUFFIX = {"S": "%Y%m%d%H%M%S", "M": "%Y%m%d%H%M", "H": "%Y%m%d%H"}
_DATE_SUFFIX = "%Y%m%d"


class Period:
    """Maps timestamps to the clock-aligned period ``[start, end)`` containing them."""

    def __init__(self, when: str, interval: int, utc: bool):
        self.when, self.interval, self.utc = when, interval, utc
        self.suffix_format = _SUFFIX.get(when, _DATE_SUFFIX)
        digits = len(datetime.datetime(2000, 1, 1).strftime(self.suffix_format))
        self.suffix_pattern = re.compile(rf"\d{{{digits}}}(\.\d+)?")

    def _wall_seconds(self, timestamp: float) -> float:
        """Seconds since 1970-01-01 00:00 on the wall clock (UTC or local)."""
        if self.utc:
            return timestamp
        local = datetime.datetime.fromtimestamp(timestamp)
        return (local - _EPOCH).total_seconds()

    def _to_timestamp(self, wall: float) -> float:
        if self.utc:
            return wall
        return (_EPOCH + datetime.timedelta(seconds=wall)).timestamp()

    def bounds(self, timestamp: float) -> tuple[float, float, str]:
        """``(start, end, suffix)`` of the period containing ``timestamp``."""
        wall = self._wall_seconds(timestamp)
        if self.when.startswith("W"):
            first_day = (int(self.when[1]) - _THURSDAY) % 7  # a day with the wanted weekday
            weeks = math.floor((wall / _DAY - first_day) / 7)
            start = (first_day + (weeks - weeks % self.interval) * 7) * _DAY
            length = self.interval * 7 * _DAY
        else:
            length = _SECONDS[self.when] * self.interval
            start = math.floor(wall / length) * length
        suffix = (_EPOCH + datetime.timedelta(seconds=start)).strftime(self.suffix_format)
        return self._to_timestamp(start), self._to_timestamp(start + length), suffix


class TimedRotatingLogFile(LogFile):
    """A log file renamed with its period's suffix when output of a later period arrives."""

    def __init__(self, path: str, when: str, interval: int, utc: bool, backup_count: int):
        super().__init__(path)
        self.period = Period(when, interval, utc)
        self.backup_count = backup_count
        self.end = math.inf  # end of the period the open file covers; unknown until a write
        self.suffix = ""

    @property
    def policy(self) -> object:
        p = self.period
        return (type(self), p.when, p.interval, p.utc, self.backup_count)

    def open(self) -> None:
        previous = self.identity
        super().open()
        if self.identity == previous and self.end != math.inf:
            return  # reopened the same file: it still covers the same period
        self.end = math.inf
        self.suffix = ""
        if self.size > 0:  # an existing file belongs to the period it was last written in
            _, self.end, self.suffix = self.period.bounds(os.fstat(self.fd).st_mtime)

    def prepare(self, timestamp: float) -> None:
        self.ensure_open()
        if timestamp >= self.end:
            self.rotate()
        if self.end == math.inf:
            _, self.end, self.suffix = self.period.bounds(timestamp)

    def rotate(self) -> None:
        """Rename the file after its period, prune old backups, start an empty file."""
        self.close()
        try:
            target = f"{self.path}.{self.suffix}"
            duplicate = 0
            while os.path.lexists(target):  # e.g. a restart inside a period already rotated
                duplicate += 1
                target = f"{self.path}.{self.suffix}.{duplicate}"
            if os.path.lexists(self.path):
                os.replace(self.path, target)
            self._prune()
        finally:
            self._guard(self.open)

    def backups(self) -> list[str]:
        """Paths of rotated files of this log, oldest first."""
        directory, base = os.path.split(self.path)
        prefix = base + "."
        names = [
            name
            for name in os.listdir(directory or ".")
            if name.startswith(prefix) and self.period.suffix_pattern.fullmatch(name[len(prefix) :])
        ]

        def age(name: str) -> tuple[str, int]:
            stamp, _, duplicate = name[len(prefix) :].partition(".")
            return stamp, int(duplicate or 0)

        return [os.path.join(directory, name) for name in sorted(names, key=age)]

    def _prune(self) -> None:
        if self.backup_count <= 0:
            return
        for old in self.backups()[: -self.backup_count]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(old)
