"""Where the suite's CPU goes: ``pytest --cpu-report=N`` (works with and without xdist).

Each test phase (setup, call, teardown) is measured with ``resource.getrusage`` deltas: the
pytest process itself (RUSAGE_SELF, every thread) plus the children it has reaped
(RUSAGE_CHILDREN: circusd, the kernel, workers, tools; a daemon counts once its reaper, the
test or its subreaper, waited for it). A module fixture's start-up and teardown count for the
test that ran them, so the per-file sums are right. The figures travel in the test reports'
``user_properties``, so xdist workers send them to the controller, which prints:

- the N files with the most CPU (the part spent in the pytest process itself, and their wall
  time: the sum of their tests' durations),
- the N files with the most wall time,
- the N tests with the most CPU.

``--cpu-report-file=PATH`` also writes every test's figures as JSON lines (nodeid, cpu, self,
wall),
to compare two runs back to back.

Loaded by tests/conftest.py (``pytest_plugins``).
"""

from __future__ import annotations

import collections
import json
import resource

import pytest

_KEY = "cpu_seconds"
_phase_key = pytest.StashKey[tuple[float, float]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cpu report")
    group.addoption(
        "--cpu-report",
        type=int,
        default=None,
        metavar="N",
        help="print the N files and tests costing the most CPU (self + reaped children)",
    )
    group.addoption(
        "--cpu-report-file",
        default=None,
        metavar="PATH",
        help="also write each test's CPU and wall seconds as JSON lines to PATH",
    )


def _cpu() -> tuple[float, float]:
    """(the pytest process, its reaped children) in CPU seconds."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def _since(start: tuple[float, float]) -> tuple[float, float]:
    now = _cpu()
    return now[0] - start[0], now[1] - start[1]


def _enabled(config: pytest.Config) -> bool:
    return (
        config.getoption("--cpu-report") is not None
        or config.getoption("--cpu-report-file") is not None
    )


class _Meter:
    """Measures each test phase and puts the figures in the test's reports (every process that
    runs tests: the xdist workers, or pytest itself without xdist). Registered only when a report
    is asked for, so a plain run pays nothing for it."""

    @staticmethod
    def _measure(item: pytest.Item):
        start = _cpu()
        try:
            return (yield)
        finally:
            item.stash[_phase_key] = _since(start)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item):
        return (yield from self._measure(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        return (yield from self._measure(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem):
        return (yield from self._measure(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        report.user_properties.append((_KEY, item.stash.get(_phase_key, (0.0, 0.0))))
        item.stash[_phase_key] = (0.0, 0.0)
        return report


class _Collector:
    """Sums the figures of every report (on the controller when xdist runs)."""

    def __init__(self) -> None:
        self.cpu: collections.Counter[str] = collections.Counter()
        self.own: collections.Counter[str] = collections.Counter()
        self.wall: collections.Counter[str] = collections.Counter()

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == _KEY:
                own, kids = value
                self.cpu[report.nodeid] += own + kids
                self.own[report.nodeid] += own
                self.wall[report.nodeid] += report.duration
                break

    def per_file(self, counter: collections.Counter[str]) -> collections.Counter[str]:
        files: collections.Counter[str] = collections.Counter()
        for nodeid, value in counter.items():
            files[nodeid.split("::", 1)[0]] += value
        return files

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter, config: pytest.Config) -> None:
        path = config.getoption("--cpu-report-file")
        if path:
            with open(path, "w") as out:
                for nodeid in self.cpu:
                    row = {
                        "nodeid": nodeid,
                        "cpu": self.cpu[nodeid],
                        "self": self.own[nodeid],
                        "wall": self.wall[nodeid],
                    }
                    out.write(json.dumps(row) + "\n")
        count = config.getoption("--cpu-report")
        if count is None:
            return
        cpu, own = self.per_file(self.cpu), self.per_file(self.own)
        wall = self.per_file(self.wall)
        write = terminalreporter.write_line
        terminalreporter.section("cpu report (self + reaped children, seconds)")
        write(
            f"total: {sum(cpu.values()):.1f} s CPU ({sum(own.values()):.1f} s in pytest itself), "
            f"{sum(wall.values()):.1f} s of test time"
        )
        write(f"-- {count} files by CPU (cpu, of which pytest itself, wall) --")
        for name, value in cpu.most_common(count):
            write(f"{value:8.2f} {own[name]:8.2f} {wall[name]:8.2f}  {name}")
        write(f"-- {count} files by wall time (wall, cpu) --")
        for name, value in wall.most_common(count):
            write(f"{value:8.2f} {cpu[name]:8.2f}  {name}")
        write(f"-- {count} tests by CPU (cpu, wall) --")
        for nodeid, value in self.cpu.most_common(count):
            write(f"{value:8.2f} {self.wall[nodeid]:8.2f}  {nodeid}")


def pytest_configure(config: pytest.Config) -> None:
    if not _enabled(config):
        return
    config.pluginmanager.register(_Meter(), "cpu_report_meter")
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Collector(), "cpu_report_collector")
