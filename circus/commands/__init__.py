"""``circus.commands`` of the original Circus (the manual's "Adding new commands").

``from circus.commands.base import Command`` gives :class:`circus.control.commands.base.Command`:
a subclass with a ``name`` is registered when its module is imported, and circusd imports the
modules named by ``[circus] commands`` (see docs/library.md). The command modules themselves
live in :mod:`circus.control.commands`.
"""

from circus.commands import base, errors, util
from circus.commands.base import error, get_commands, ok

__all__ = ["base", "error", "errors", "get_commands", "ok", "util"]
