"""Control commands: one module per command, registered explicitly into :data:`REGISTRY`.

``register`` is a class decorator; importing this package imports every command module (the list
below is explicit, so a typo is an import error, not a silently missing command).
"""

from __future__ import annotations

import importlib

from circus.control.commands.base import Command

REGISTRY: dict[str, type[Command]] = {}


def register(cls: type[Command]) -> type[Command]:
    """Add a command class to :data:`REGISTRY` under its (lower-case) ``name``."""
    name = cls.name.lower()
    if not name:
        raise ValueError(f"{cls.__qualname__} has no command name")
    if name in REGISTRY and REGISTRY[name] is not cls:
        raise ValueError(f"command {name!r} registered twice")
    REGISTRY[name] = cls
    return cls


def get_commands() -> dict[str, Command]:
    """A fresh instance of every command, by name."""
    return {name: cls() for name, cls in sorted(REGISTRY.items())}


# The 25 commands of the manual (listen is answered with an error: it is a pub/sub feature).
# Module names avoid shadowing builtins in this package's namespace (list, set).
COMMAND_MODULES = (
    "add",
    "decr",
    "dstats",
    "get",
    "globaloptions",
    "incr",
    "ipython",
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
)
for _module in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["COMMAND_MODULES", "REGISTRY", "Command", "get_commands", "register"]
