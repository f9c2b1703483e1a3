"""restart: stop then start one, several or all watchers."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from circus.control.api import ArbiterAPI, WatcherAPI
from circus.control.commands._startstop import StartStopCommand


class Restart(StartStopCommand):
    """Restart the arbiter or a watcher

    Stops then starts the watcher(s). Without a name every watcher is restarted (the original
    also rebuilt the whole arbiter from the configuration file; use ``reloadconfig`` for that).

    Message::

        {"command": "restart",
         "properties": {"name": "web", "waiting": false, "match": "glob"}}

    Properties: ``name`` (optional), ``match`` (``simple``, ``glob`` (default), ``regex``),
    ``waiting``.

    Reply: ok; for one watcher with ``waiting``, ``{"info": {"stopped": [...],
    "started": [...], "kept": [...]}}``.

    Command line::

        circusctl restart [<name>] [--waiting] [--match=simple|glob|regex]
    """

    name = "restart"

    def one(self, watcher: WatcherAPI) -> Awaitable[Any]:
        return watcher.restart()

    def several(self, arbiter: ArbiterAPI, watchers: list[WatcherAPI] | None) -> Awaitable[None]:
        return arbiter.restart(watchers)
