"""The kernel's one exception hierarchy.

Every error a command can meet is a :class:`KernelError`; the connection turns it into exactly one
``Error: <message>`` reply (see :mod:`papa_kernel.connection`) and the session goes on. Messages
name what was wrong (the option, the name, the path) so a human at a telnet prompt can fix it.
"""

from __future__ import annotations


class KernelError(Exception):
    """Base of every error reported to a client as ``Error: <message>``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class CommandError(KernelError):
    """The command line itself is malformed (unknown word, missing name, bad option)."""


class NotFoundError(KernelError):
    """A name given exactly does not exist."""


class ConflictError(KernelError):
    """A name exists already with different parameters."""


class SpawnError(KernelError):
    """A process could not be started (missing executable, bad working_dir, user, rlimit)."""


class SocketError(KernelError):
    """A socket could not be created or bound."""
