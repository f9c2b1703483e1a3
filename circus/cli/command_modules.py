"""circusctl's side of third-party control commands: import the modules circusd loaded.

A command runs in two processes: circusd executes it, circusctl turns the command line into a
message (``message()``) and the reply into text (``console_msg()``). circusd imports the modules
named by ``[circus] commands`` and reports them in ``globaloptions``; when circusctl is asked for
a command it does not know (or starts its shell), it asks circusd for that list and imports the
same modules, which registers their commands (importing a module is all it takes: see
:mod:`circus.control.commands.base`). Only modules circusd's own configuration names are
imported, and only modules circusctl's Python can find.

In fleet mode (:func:`load_for_fleet`) every host is asked at once, and each answer's modules
are imported as it comes, until one defines the command asked for: the hosts that are slow or
unreachable then cost nothing more than the command's own call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from circus.control.commands import get_commands
from circus.errors import CallError
from circus.util.dotted import import_module

if TYPE_CHECKING:
    from circus.client.fleet import Host

COMMANDS_OPTION = "commands"  # the globaloptions key listing the modules


def remote_modules(call: Callable[[dict[str, Any]], dict[str, Any]]) -> list[str]:
    """The command modules circusd loaded; none when it cannot say (not running, too old)."""
    try:
        return modules_of(call(MODULES_MESSAGE))
    except CallError:
        return []


MODULES_MESSAGE = {"command": "globaloptions", "properties": {"option": COMMANDS_OPTION}}


def modules_of(reply: dict[str, Any] | None) -> list[str]:
    """The command modules a ``globaloptions`` reply lists (none for an error reply)."""
    if reply is None or reply.get("status") != "ok":
        return []
    modules = (reply.get("options") or {}).get(COMMANDS_OPTION)
    if not isinstance(modules, list):
        return []
    return [name for name in modules if isinstance(name, str)]


def load_for_fleet(hosts: Sequence[Host], command: str, timeout: float) -> list[str]:
    """Import the command modules of the fleet's circusds until ``command`` is defined: all
    hosts are asked at once, each answer's modules imported as it comes, and the others are
    no longer waited for once one of them defined it. Returns the import failures (see
    :func:`import_modules`)."""
    import contextlib

    from circus.util.no_openssl import import_asyncio

    asyncio = import_asyncio()  # fleet mode only: circusctl's single-host path has none
    from circus.client.fleet import Fleet

    async def ask() -> list[str]:
        failures: list[str] = []
        tried: set[str] = set()
        async with (
            Fleet(hosts, timeout) as fleet,
            contextlib.aclosing(fleet.as_completed(MODULES_MESSAGE)) as results,
        ):
            async for result in results:
                modules = [m for m in modules_of(result.reply) if m not in tried]
                tried.update(modules)
                failures += import_modules(modules)
                if command in get_commands():
                    break
        return failures

    return asyncio.run(ask())


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
