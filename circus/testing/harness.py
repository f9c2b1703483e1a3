"""The real :class:`~circus.arbiter.Arbiter` on a :class:`~circus.testing.fakehost.FakeHost`.

:func:`arbiter_on` builds an arbiter whose hosts (kernel and local alike) are the fake one;
:func:`start_arbiter` runs the policy part of ``Arbiter.astart`` (watchers, sockets, adoption,
events, start by priority) without the instance lock, the kernel, the control channel or the
PUB socket. Events the arbiter publishes are kept by a :class:`RecordingPublisher`. For the
control channel on top, call ``arbiter.astart()`` instead (it binds the real endpoints).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from circus.arbiter import Arbiter
from circus.config import config_from_dict
from circus.control import control_channel
from circus.hostset import KERNEL, LOCAL
from circus.testing.fakehost import FakeHost


class RecordingPublisher:
    """Stands for the PUB socket: keeps ``(loop time, topic, payload)`` of every event."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, dict[str, Any]]] = []

    def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        self.events.append((asyncio.get_running_loop().time(), topic, dict(payload)))

    def topics(self, prefix: str = "") -> list[str]:
        return [topic for _at, topic, _p in self.events if topic.startswith(prefix)]

    def close(self) -> None:
        pass


def arbiter_on(
    host: FakeHost,
    config: Mapping[str, Any] | Any,
    *,
    record: bool = True,
    config_path: str | None = None,
) -> Arbiter:
    """An Arbiter for ``config`` (a ``get_arbiter``-style dict or a CircusConfig, read from
    ``config_path`` for ``reloadconfig``) whose hosts are ``host``; with ``record``, its events
    go to a RecordingPublisher (``arbiter.publisher``; ``astart`` replaces it by the real one)."""
    if isinstance(config, Mapping):
        config = config_from_dict(dict(config))
    arbiter = Arbiter(config, config_path=config_path, control=control_channel)
    for name in (KERNEL, LOCAL):  # instead of the kernel and the local host
        arbiter.hosts.use(name, host)
    if record:
        arbiter.publisher = RecordingPublisher()
    return arbiter


async def start_arbiter(arbiter: Arbiter) -> Arbiter:
    """Start ``arbiter`` as ``astart`` does, minus the lock, kernel and endpoints."""
    arbiter.loop = asyncio.get_running_loop()
    await arbiter.bring_up()
    return arbiter
