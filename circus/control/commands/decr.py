"""decr: remove processes from a watcher."""

from __future__ import annotations

from collections.abc import Awaitable

from circus.control.api import WatcherAPI
from circus.control.commands.incr import _ChangeProcesses


class Decr(_ChangeProcesses):
    """Decrement the number of processes in a watcher

    Message::

        {"command": "decr", "properties": {"name": "web", "nb": 1, "waiting": false}}

    Properties: ``name`` (required), ``nb`` (default 1, >= 0; the count stops at 0),
    ``waiting``.

    Reply: with ``waiting``, ``{"numprocesses": N}``; without, a plain ok. A singleton
    watcher is left alone: ``{"numprocesses": 1, "singleton": true}``.

    Command line::

        circusctl decr <name> [<nb>] [--waiting]
    """

    name = "decr"

    def change(self, watcher: WatcherAPI, nb: int) -> Awaitable[int]:
        return watcher.decr(nb)
