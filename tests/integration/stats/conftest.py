"""Fixtures for circusd-stats tests: a real circusd, a real circusd-stats, a real subscriber."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

import pytest
import support

from circus.stats.client import StatsClient


@pytest.fixture
def worker_cmd():
    return support.WORKER_CMD


@pytest.fixture
def circusd(tmp_path, runtime_dir):
    """Factory: ``circusd(body, circus_extra="")`` starts a circusd; all cleaned up after."""
    started: list[support.Circusd] = []

    def factory(body: str, circus_extra: str = "") -> support.Circusd:
        daemon = support.Circusd(tmp_path / f"d{len(started)}", body, circus_extra)
        started.append(daemon)
        daemon.start()
        return daemon

    yield factory
    for daemon in started:
        daemon.cleanup()


class StatsDaemon:
    """A circusd-stats subprocess publishing on ``endpoint`` (``NAME.sock`` in the circusd's
    directory; its log ``circusd-NAME.log``: a second one for the same circusd has a name of
    its own)."""

    def __init__(self, daemon: support.Circusd, *args: str, name: str = "stats") -> None:
        self.endpoint = f"ipc://{daemon.workdir}/{name}.sock"
        self.log_path = os.path.join(daemon.workdir, f"circusd-{name}.log")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "circus.cli.circusd_stats",
                    "--endpoint",
                    daemon.endpoint,
                    "--pubsub",
                    daemon.pubsub,
                    "--statspoint",
                    self.endpoint,
                    "--log-level",
                    "debug",
                    *args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


def _stats_daemons():
    """A ``circusd_stats`` factory, then (after the yield) every daemon it started stopped."""
    started: list[StatsDaemon] = []

    def factory(daemon: support.Circusd, *args: str, name: str = "stats") -> StatsDaemon:
        started.append(StatsDaemon(daemon, *args, name=name))
        return started[-1]

    yield factory
    for stats in started:
        stats.stop()


@pytest.fixture
def circusd_stats():
    """Factory: ``circusd_stats(daemon, *args)`` runs circusd-stats against a circusd."""
    yield from _stats_daemons()


@pytest.fixture(scope="module")
def module_circusd_stats():
    """Like ``circusd_stats``, for a module's circusd: stopped after the module."""
    yield from _stats_daemons()


class Collector:
    """Reads the stats stream: ``until(predicate)`` returns the (watcher, subtopic, stat) that
    satisfies it, failing after a deadline."""

    def __init__(self, endpoint: str) -> None:
        self.client = StatsClient(endpoint)
        self.seen: list[tuple[str, str | None, dict]] = []

    def until(self, predicate, timeout: float = 15.0, what: str = "a stat"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.client.next_stat(timeout=0.5)
            if message is None:
                continue
            self.seen.append(message)
            if predicate(*message):
                return message
        raise AssertionError(f"no {what} within {timeout}s; last seen: {self.seen[-5:]}")

    def pids_of(self, watcher: str, timeout: float = 15.0) -> list[int]:
        """The pid list of the next aggregate of ``watcher``."""
        _, _, stat = self.until(lambda w, s, _: w == watcher and s is None, timeout, watcher)
        return stat["pid"]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.stop()


@pytest.fixture
def collector():
    """Factory: ``collector(endpoint)`` subscribes to a stats endpoint."""
    made: list[Collector] = []

    def factory(endpoint: str) -> Collector:
        made.append(Collector(endpoint))
        return made[-1]

    yield factory
    for c in made:
        c.close()
