"""``ResourceWatcher``: restart a watcher (or signal one process) that uses too much, or too
little, CPU or memory for too long.

The original's plugin and options (``[plugin:NAME]`` with ``use =
circus.plugins.resource_watcher.ResourceWatcher``), on :class:`~circus.plugins.statsd.BaseObserver`
(the statsd options, and ``loop_rate``: seconds between looks, default 60):

- ``watcher`` (required; ``service`` is its deprecated alias): the watcher to look after;
- ``max_cpu`` (% of one core, default 90), ``min_cpu`` (default: none);
- ``max_mem`` and ``min_mem``: a plain number is a % of the host's memory (``max_mem``
  defaults to 90 %), a size with a unit (``512K``, ``100M``, ``2G``) is resident bytes;
- ``health_threshold`` (default 75): the mean of the CPU % and the memory % above which the
  process is unhealthy;
- ``max_count`` (default 3): how many looks in a row a limit may be passed before acting;
- ``process_children`` (default false): also look at each process' children, one by one, and
  send ``child_signal`` (default SIGTERM) to the child that passes a limit;
- ``per_process`` (default false; not in the original, whose "todo" it was): judge each process
  of the watcher on its own figures and restart just that one (circusd's ``kill``; the watcher
  spawns its replacement) instead of restarting the whole watcher on the worst figures.

Each look sends statsd counters ``_resource_watcher.<watcher>.over_cpu`` (``under_cpu``,
``over_memory``, ``under_memory``, ``over_health``, ``restarting``, ``error``), as the
original's did. Beyond the original: an absolute ``min_mem`` is compared in bytes (the original
compared it as a %), and a bad option is refused at start with its name.
"""

from __future__ import annotations

import logging
import signal
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

from circus.config.converters import to_bool, to_signum, to_size
from circus.plugins.statsd import BaseObserver
from circus.procinfo import figure, info_bytes
from papa_kernel.records import field, frozen_record, record

log = logging.getLogger(__name__)

#: Key of the whole watcher in :class:`ResourceCounts` (the original's ``'parent'``).
WATCHER = "parent"
LIMITS = ("over_cpu", "under_cpu", "over_memory", "under_memory", "over_health")


@frozen_record
class Figures:
    """CPU %, memory % and resident bytes; for a group, the max and min over its members."""

    max_cpu: float = 0.0
    min_cpu: float = 0.0
    max_mem: float = 0.0
    min_mem: float = 0.0
    max_rss: int = 0
    min_rss: int = 0

    @classmethod
    def of(cls, infos: list[Mapping[str, Any]]) -> Figures:
        """The figures of processes' ``stats`` infos (an unreadable figure counts as over:
        100 %, as the original did; an unreadable size as 0)."""
        if not infos:
            return cls()
        cpus = [figure(info.get("cpu"), missing=100.0) for info in infos]
        mems = [figure(info.get("mem"), missing=100.0) for info in infos]
        rss = [info_bytes(info.get("mem_info1")) for info in infos]
        return cls(max(cpus), min(cpus), max(mems), min(mems), max(rss), min(rss))


@frozen_record
class Limit:
    """A memory limit: a % of the host's memory, or resident bytes."""

    value: float
    percent: bool

    @classmethod
    def parse(cls, key: str, raw: Any) -> Limit:
        text = str(raw).strip()
        try:
            return cls(float(text), True)
        except ValueError:
            pass
        try:
            return cls(float(to_size(text)), False)
        except (TypeError, ValueError):
            raise ValueError(
                f"{key}: {text!r} is neither a % (90) nor a size with a unit (100M)"
            ) from None


@frozen_record
class Limits:
    """The thresholds of one ResourceWatcher (parsed, validated options)."""

    max_cpu: float | None = 90.0
    min_cpu: float | None = None
    max_mem: Limit | None = Limit(90.0, True)
    min_mem: Limit | None = None
    health_threshold: float | None = 75.0
    max_count: int = 3

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        def number(key: str, default: float | None) -> float | None:
            raw = config.get(key)
            if raw is None or str(raw).strip() == "":
                return default
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise ValueError(f"{key}: not a number: {raw!r}") from None
            if value < 0:
                raise ValueError(f"{key}: must not be negative: {raw!r}")
            return value

        max_count = number("max_count", 3)
        assert max_count is not None
        if max_count != int(max_count):
            raise ValueError(f"max_count: not a whole number: {config.get('max_count')!r}")
        return cls(
            max_cpu=number("max_cpu", 90.0),
            min_cpu=number("min_cpu", None),
            max_mem=Limit.parse("max_mem", config["max_mem"])
            if config.get("max_mem")
            else Limit(90.0, True),
            min_mem=Limit.parse("min_mem", config["min_mem"]) if config.get("min_mem") else None,
            health_threshold=number("health_threshold", 75.0),
            max_count=int(max_count),
        )

    def passed(self, f: Figures) -> list[str]:
        """The limits ``f`` passes (names of :data:`LIMITS`), as the original judged them."""
        found = []
        if self.max_cpu and f.max_cpu > self.max_cpu:
            found.append("over_cpu")
        if self.min_cpu is not None and f.min_cpu <= self.min_cpu:
            found.append("under_cpu")
        if self.max_mem is not None and (
            f.max_mem > self.max_mem.value if self.max_mem.percent else
            f.max_rss > self.max_mem.value
        ):  # fmt: skip
            found.append("over_memory")
        if self.min_mem is not None and (
            f.min_mem < self.min_mem.value if self.min_mem.percent else
            f.min_rss < self.min_mem.value
        ):  # fmt: skip
            found.append("under_memory")
        if self.health_threshold and (f.max_cpu + f.max_mem) / 2.0 > self.health_threshold:
            found.append("over_health")
        return found


@record
class ResourceCounts:
    """Looks in a row that passed each limit, per key (the watcher, a pid, a child pid)."""

    limits: Limits
    counts: dict[Any, dict[str, int]] = field(default_factory=dict)

    def look(self, key: Any, figures: Figures) -> tuple[list[str], bool]:
        """Count one look at ``key``: (the limits passed, True when it is time to act, which
        also resets the counts of ``key``)."""
        passed = self.limits.passed(figures)
        counts = self.counts.setdefault(key, dict.fromkeys(LIMITS, 0))
        for name in LIMITS:
            counts[name] = counts[name] + 1 if name in passed else 0
        act = max(counts.values()) > self.limits.max_count
        if act:
            self.counts[key] = dict.fromkeys(LIMITS, 0)
        return passed, act

    def keep_only(self, keys: set[Any]) -> None:
        """Forget the keys no longer seen (ended processes)."""
        for key in [k for k in self.counts if k not in keys]:
            del self.counts[key]


class ResourceWatcher(BaseObserver):
    """Restarts a watcher (or signals one process) that passes its CPU or memory limits
    ``max_count`` looks in a row. See the module's docstring for the options."""

    name = "resource_watcher"
    config_options: ClassVar[dict[str, str]] = {
        "watcher": "str", "service": "str", "max_cpu": "number", "min_cpu": "number",
        "max_mem": "percent_or_size", "min_mem": "percent_or_size",
        "health_threshold": "number", "max_count": "count", "process_children": "bool",
        "per_process": "bool", "child_signal": "signal",
    }  # fmt: skip

    def __init__(self, *args: Any, **config: Any) -> None:
        super().__init__(*args, **config)
        self.watcher = config.get("watcher")
        self.service = config.get("service")
        if self.service is not None:
            warnings.warn(
                "ResourceWatcher.service is deprecated please use ResourceWatcher.watcher instead.",
                category=DeprecationWarning,
                stacklevel=2,
            )
            if self.watcher is None:
                self.watcher = self.service
        if not self.watcher:
            self.statsd.stop()
            raise ValueError("watcher: required (the name of the watcher to look after)")
        self.limits = Limits.from_config(config)
        self.process_children = to_bool(config.get("process_children", False))
        self.per_process = to_bool(config.get("per_process", False))
        try:
            self.child_signal = to_signum(config.get("child_signal", signal.SIGTERM))
        except ValueError as exc:
            raise ValueError(f"child_signal: {exc}") from None
        self.counts = ResourceCounts(self.limits)

    def look_after(self) -> None:
        info = self.call("stats", name=self.watcher)
        if info.get("status") == "error":
            self.statsd.increment(f"_resource_watcher.{self.watcher}.error")
            return
        processes = {
            int(pid): proc
            for pid, proc in info.get("info", {}).items()
            if str(pid).isdigit() and isinstance(proc, Mapping)
        }
        seen: set[Any] = set()
        if self.per_process:
            for pid, proc in processes.items():
                seen.add(pid)
                if self._judge(pid, Figures.of([proc])):
                    self.cast("kill", name=self.watcher, pid=pid)
        else:
            seen.add(WATCHER)
            if self._judge(WATCHER, Figures.of(list(processes.values()))):
                self.cast("restart", name=self.watcher)
        if self.process_children:
            for pid, proc in processes.items():
                for child in proc.get("children", []):
                    if not isinstance(child, Mapping) or "pid" not in child:
                        continue
                    key = ("child", child["pid"])
                    seen.add(key)
                    if self._judge(key, Figures.of([child])):
                        self.cast(
                            "signal", name=self.watcher, signum=self.child_signal, pid=pid,
                            childpid=child["pid"],
                        )  # fmt: skip
        self.counts.keep_only(seen)

    def _judge(self, key: Any, figures: Figures) -> bool:
        passed, act = self.counts.look(key, figures)
        for name in passed:
            self.statsd.increment(f"_resource_watcher.{self.watcher}.{name}")
        if act:
            self.statsd.increment(f"_resource_watcher.{self.watcher}.restarting")
            log.warning("%s: %s passed %s: acting", self.watcher, key, ", ".join(passed))
        return act
