"""stop: stop one, several or all watchers."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from circus.control.api import ArbiterAPI, WatcherAPI
from circus.control.commands._startstop import StartStopCommand


class Stop(StartStopCommand):
    """Stop watchers

    Processes get the watcher's ``stop_signal``, then SIGKILL after ``graceful_timeout``.

    Message::

        {"command": "stop",
         "properties": {"name": "web", "waiting": false, "match": "glob"}}

    Properties: ``name`` (optional: all watchers, reverse priority order), ``match``
    (``simple``, ``glob`` (default), ``regex``), ``waiting``.

    Reply: ok; for one watcher with ``waiting``, ``{"info": null}``.

    Command line::

        circusctl stop [<name>] [--waiting] [--match=simple|glob|regex]
    """

    name = "stop"

    def one(self, watcher: WatcherAPI) -> Awaitable[Any]:
        return watcher.stop()

    def several(self, arbiter: ArbiterAPI, watchers: list[WatcherAPI] | None) -> Awaitable[None]:
        return arbiter.stop_watchers(watchers)
