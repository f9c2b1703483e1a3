"""Control commands: one module per command; every :class:`Command` subclass that sets its own
``name`` is registered into :data:`REGISTRY` when its module is imported.

Importing this package imports every module in it but ``base`` and the helpers whose names start
with ``_``: each is a command module, so adding a command is adding its module (the class
registers itself; nothing else lists it). Third-party command modules are imported the same
way: circusd imports those named by ``[circus] commands``; circusctl imports them too when it is
asked for a command it does not know (``globaloptions`` lists them).
"""

from __future__ import annotations

import importlib
import os
from importlib.machinery import all_suffixes

from circus.control.commands.base import REGISTRY, Command


def get_commands() -> dict[str, Command]:
    """A fresh instance of every command, by name."""
    return {name: cls() for name, cls in sorted(REGISTRY.items())}


#: The command modules, found in the package (the 25 commands of the manual, listen answered
#: with an error as it is a pub/sub feature, and the new ones such as kernel and tail).
#: Module names avoid shadowing builtins in this package's namespace (list, set).
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
for _module in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["COMMAND_MODULES", "REGISTRY", "Command", "get_commands"]
