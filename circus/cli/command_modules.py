"""circusctl's side of third-party control commands: import the modules circusd loaded.

A command runs in two processes: circusd executes it, circusctl turns the command line into a
message (``message()``) and the reply into text (``console_msg()``). circusd imports the modules
named by ``[circus] commands`` and reports them in ``globaloptions``; when circusctl is asked for
a command it does not know (or starts its shell), it asks circusd for that list and imports the
same modules, which registers their commands (importing a module is all it takes: see
:mod:`circus.control.commands.base`). Only modules circusd's own configuration names are
imported, and only modules circusctl's Python can find.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from circus.errors import CallError
from circus.util.dotted import import_module

COMMANDS_OPTION = "commands"  # the globaloptions key listing the modules


def remote_modules(call: Callable[[dict[str, Any]], dict[str, Any]]) -> list[str]:
    """The command modules circusd loaded; none when it cannot say (not running, too old)."""
    try:
        reply = call({"command": "globaloptions", "properties": {"option": COMMANDS_OPTION}})
    except CallError:
        return []
    if reply.get("status") != "ok":
        return []
    modules = (reply.get("options") or {}).get(COMMANDS_OPTION)
    if not isinstance(modules, list):
        return []
    return [name for name in modules if isinstance(name, str)]


def import_modules(names: list[str]) -> list[str]:
    """Import each module; return one message per module that could not be imported (worded
    as ``circusd --check-config`` words it: whatever the module raised, and why)."""
    failures = []
    for name in names:
        try:
            import_module(name)
        except ValueError as exc:
            failures.append(f"circusctl: circusd's [circus] commands: command module: {exc}")
    return failures
