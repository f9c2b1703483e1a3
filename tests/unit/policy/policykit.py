"""Helpers of the policy tests (imported as ``policykit``): the real Watcher and Arbiter on
a FakeHost, in virtual time."""

from __future__ import annotations

import itertools
import signal
from typing import Any

from circus.arbiter import Arbiter
from circus.testing import FakeHost, arbiter_on, start_arbiter
from circus.watcher import Watcher


async def started(
    host: FakeHost | None = None, config: dict[str, Any] | None = None, **options: Any
) -> tuple[FakeHost, Arbiter, Watcher]:
    """Start an arbiter with one watcher ``w`` (``cmd = prog``, then ``options``)."""
    host = host or FakeHost()
    watcher = {"name": "w", "cmd": "prog", **options}
    arbiter = arbiter_on(host, {**(config or {}), "watchers": [watcher]})
    await start_arbiter(arbiter)
    return host, arbiter, arbiter.get_watcher("w")


def spawn_times(host: FakeHost) -> list[float]:
    return [round(c.at, 9) for c in host.ops("spawn")]


def signals_sent(host: FakeHost) -> list[tuple[float, str, str]]:
    return [(round(c.at, 9), c.name, signal.Signals(c.signum).name) for c in host.ops("signal")]


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 9) for a, b in itertools.pairwise(times)]
