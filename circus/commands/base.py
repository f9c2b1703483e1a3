"""``circus.commands.base`` of the original Circus: the base class of control commands."""

from typing import Any

from circus.control.codec import error_reply
from circus.control.codec import ok_reply as ok
from circus.control.commands import get_commands
from circus.control.commands.base import Command
from circus.errors import Errno, MessageError
from circus.util.compat import facade

__all__ = ["Command", "MessageError", "error", "get_commands", "ok"]


def error(
    reason: str = "unknown", tb: str | None = None, errno: int = Errno.NOT_SPECIFIED
) -> dict[str, Any]:
    """An error reply: :func:`circus.control.codec.error_reply` in the original's argument
    order."""
    return error_reply(reason, errno, tb)


_MISSING = {
    "KNOWN_COMMANDS": "commands are kept by name in circus.control.commands.base.REGISTRY",
    "CommandMeta": "subclassing Command with a name registers it (Command.__init_subclass__)",
}
__getattr__, __dir__ = facade(__name__, {}, _MISSING)
