"""start: start one, several or all watchers."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from circus.control.api import ArbiterAPI, WatcherAPI
from circus.control.commands._startstop import StartStopCommand


class Start(StartStopCommand):
    """Start the arbiter or a watcher

    Message::

        {"command": "start",
         "properties": {"name": "web", "waiting": false, "match": "glob"}}

    Properties: ``name`` (optional; without it every watcher with ``autostart`` is started),
    ``match`` (``simple`` exact name, ``glob`` wildcards (default), ``regex``; all
    case-insensitive), ``waiting``.

    Reply: ok; for one watcher with ``waiting``, ``{"info": {"started": [...],
    "kept": [...]}}``. No matching watcher -> error errno 3 ``program NAME not found``.

    Command line::

        circusctl start [<name>] [--waiting] [--match=simple|glob|regex]
    """

    name = "start"

    def one(self, watcher: WatcherAPI) -> Awaitable[Any]:
        return watcher.start()

    def several(self, arbiter: ArbiterAPI, watchers: list[WatcherAPI] | None) -> Awaitable[None]:
        return arbiter.start_watchers(watchers)
