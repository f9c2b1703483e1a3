"""Control commands: one module per command; every :class:`Command` subclass that sets its own
``name`` is registered into :data:`REGISTRY` when its module is imported.

Importing this package imports every built-in command module (the list below is explicit, so a
typo is an import error, not a silently missing command). Third-party command modules are
imported the same way: circusd imports those named by ``[circus] commands``; circusctl imports
them too when it is asked for a command it does not know (``globaloptions`` lists them).
"""

from __future__ import annotations

import importlib

from circus.control.commands.base import REGISTRY, Command


def get_commands() -> dict[str, Command]:
    """A fresh instance of every command, by name."""
    return {name: cls() for name, cls in sorted(REGISTRY.items())}


# The 25 commands of the manual (listen is answered with an error: it is a pub/sub feature),
# and the new ones: kernel, tail.
# Module names avoid shadowing builtins in this package's namespace (list, set).
COMMAND_MODULES = (
    "add",
    "decr",
    "dstats",
    "get",
    "globaloptions",
    "incr",
    "ipython",
    "kernel",
    "kill",
    "listen",
    "listsockets",
    "listwatchers",
    "numprocesses",
    "numwatchers",
    "options",
    "quit",
    "reload",
    "reloadconfig",
    "restart",
    "rm",
    "setoptions",
    "signal",
    "start",
    "stats",
    "status",
    "stop",
    "tail",
)
for _module in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["COMMAND_MODULES", "REGISTRY", "Command", "get_commands"]
