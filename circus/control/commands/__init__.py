"""Control commands: one module per command; every :class:`Command` subclass that sets its own
``name`` is registered into :data:`REGISTRY` when its module is imported.

Every module in this package but ``base`` and the helpers whose names start with ``_`` is a
command module, so adding a command is adding its module (the class registers itself; nothing
else lists it). :func:`get_commands` (circusctl's help and shell) imports them all;
:class:`Commands` (circusd's controller, a circusctl run) imports a command's module when the
command is first asked for: circusctl runs one command, and importing the 27 modules cost it
~8-15 ms of CPU at every run.
A command is looked for in the module of its name, then in those whose names begin with it,
then in every module (``list`` and ``set`` live in ``listwatchers`` and ``setoptions``: module
names avoid shadowing builtins in this package's namespace). A circusd asked for status, list
and quit imports those modules only (all 27 cost ~0.4 MB and ~5 ms of CPU at each start).
Third-party command modules are imported the same way: circusd imports those named by
``[circus] commands``; circusctl imports them too when it is asked for a command it does not
know (``globaloptions`` lists them). Circus's own commands are all registered before a
third-party one (:meth:`Command.__init_subclass__`), so a third-party module that reuses a
built-in name is the one refused.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from importlib.machinery import all_suffixes

from circus.control.commands.base import REGISTRY, Command

#: The command modules, found in the package (the 25 commands of the manual, listen answered
#: with an error as it is a pub/sub feature, and the new ones such as kernel and tail).
#: (Listed from the directory: pkgutil.iter_modules imports inspect, which circusd keeps out.)
COMMAND_MODULES = tuple(
    sorted(
        {
            filename[: -len(suffix)]
            for directory in __path__
            for filename in os.listdir(directory)
            for suffix in all_suffixes()
            if filename.endswith(suffix) and not filename.startswith(("_", "base."))
        }
    )
)


def load_all() -> None:
    """Import every command module (those already imported cost nothing), and register again
    a command of theirs that :data:`REGISTRY` lost (a test that put back an earlier copy)."""
    for module in COMMAND_MODULES:
        _load(module)


def _load(module: str) -> None:
    name = f"{__name__}.{module}"
    loaded = sys.modules.get(name)
    if loaded is None:
        importlib.import_module(name)  # its command registers itself
        return
    for value in vars(loaded).values():
        if isinstance(value, type) and issubclass(value, Command) and value.__module__ == name:
            command = value.__dict__.get("name")
            if command:
                REGISTRY.setdefault(command.lower(), value)


def command_class(name: str) -> type[Command] | None:
    """The class of command ``name``, importing only its module when it is named after it;
    None for an unknown command (after importing every module)."""
    name = name.lower()
    cls = REGISTRY.get(name)
    # its module, then those whose names begin with it (``list`` is in ``listwatchers``, after
    # ``listen`` and ``listsockets``; ``set`` in ``setoptions``), then all of them
    for module in (name, *(m for m in COMMAND_MODULES if m.startswith(name) and m != name)):
        if cls is not None:
            break
        if module in COMMAND_MODULES:
            _load(module)
            cls = REGISTRY.get(name)
    if cls is None:
        load_all()
        cls = REGISTRY.get(name)
    return cls


def get_commands() -> dict[str, Command]:
    """A fresh instance of every command, by name."""
    load_all()
    return {name: cls() for name, cls in sorted(REGISTRY.items())}


class Commands(Mapping[str, Command]):
    """Every command by name, as :func:`get_commands`, but a command's module is imported when
    the command is first looked up; iterating (``--help``, a shell) imports them all."""

    def __init__(self) -> None:
        self._made: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        command = self._made.get(name)
        if command is None:
            cls = command_class(name) if name == name.lower() else None
            if cls is None:
                raise KeyError(name)
            command = self._made[name] = cls()
        return command

    def __iter__(self) -> Iterator[str]:
        load_all()
        return iter(sorted(REGISTRY))

    def __len__(self) -> int:
        load_all()
        return len(REGISTRY)


__all__ = [
    "COMMAND_MODULES",
    "REGISTRY",
    "Command",
    "Commands",
    "command_class",
    "get_commands",
    "load_all",
]
