"""The one exception hierarchy of circus, and the control-channel error codes.

Every user-facing error carries *what* was wrong and *where*: ``file:line [section] key`` for
configuration, command and property for control messages. The mapping of exceptions to the wire
(``errno`` + ``reason``) lives in one place: :func:`circus.control.codec.error_reply` uses
:attr:`CircusError.errno`.
"""

from __future__ import annotations

import enum
from typing import Any

from papa_kernel.records import frozen_record


class Errno(enum.IntEnum):
    """Control-channel error numbers, identical to the original Circus (``commands/errors.py``)."""

    NOT_SPECIFIED = 0
    INVALID_JSON = 1
    UNKNOWN_COMMAND = 2
    MESSAGE_ERROR = 3
    OS_ERROR = 4
    COMMAND_ERROR = 5
    BAD_MSG_DATA_ERROR = 6


class CircusError(Exception):
    """Base of every error circus raises on purpose."""

    errno: Errno = Errno.NOT_SPECIFIED


# --- configuration -------------------------------------------------------------------------------


@frozen_record
class ConfigProblem:
    """One problem found in a configuration: what was expected, what was found, and where."""

    message: str
    file: str | None = None
    line: int | None = None
    section: str | None = None
    key: str | None = None
    suggestion: str | None = None

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.section:
            parts.append(f"[{self.section}]")
        if self.key:
            parts.append(self.key)
        return " ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        text = f"{where}: {self.message}" if where else self.message
        if self.suggestion:
            text += f" (did you mean {self.suggestion!r}?)"
        return text


class ConfigError(CircusError):
    """A configuration could not be loaded. Holds every problem found, not just the first."""

    errno = Errno.MESSAGE_ERROR

    def __init__(
        self,
        problems: list[ConfigProblem] | ConfigProblem | str,
        warnings: tuple[ConfigProblem, ...] | list[ConfigProblem] = (),
    ):
        if isinstance(problems, str):
            problems = [ConfigProblem(problems)]
        elif isinstance(problems, ConfigProblem):
            problems = [problems]
        self.problems: list[ConfigProblem] = list(problems)
        #: Warnings found by the same configuration load, shown alongside the errors.
        self.warnings: tuple[ConfigProblem, ...] = tuple(warnings)
        super().__init__("\n".join(str(p) for p in self.problems))


# --- control channel -----------------------------------------------------------------------------


class MessageError(CircusError):
    """A control message is malformed or names something that does not exist."""

    errno = Errno.MESSAGE_ERROR
    #: the id and cast flag of the refused request, when the codec found them (for the reply)
    request_id: Any = None
    cast: bool = False


class InvalidJSONError(MessageError):
    """A control message body is not valid JSON (the reply carries ``id: null``)."""

    errno = Errno.INVALID_JSON


class UnknownCommandError(CircusError):
    errno = Errno.UNKNOWN_COMMAND


class BadResultError(CircusError):
    """A command produced something that cannot be sent as a reply (a bug on our side), or a
    command awaited with ``waiting`` failed after it had been accepted."""

    errno = Errno.BAD_MSG_DATA_ERROR


class ArgumentError(CircusError):
    """Bad command-line arguments (circusctl) or bad property combination."""

    errno = Errno.COMMAND_ERROR


class ConflictError(CircusError):
    """A command cannot run now because a conflicting one is running on the same target."""

    errno = Errno.COMMAND_ERROR


class AlreadyExistError(CircusError):
    errno = Errno.COMMAND_ERROR


class CallError(CircusError):
    """A client call failed: timeout, connection refused, or an error reply."""


# --- process hosting -----------------------------------------------------------------------------


class HostError(CircusError):
    """A process host (the kernel or the local host) refused or failed an operation."""

    errno = Errno.COMMAND_ERROR


class KernelError(HostError):
    """papa-kernel replied ``Error: ...`` or could not be reached."""


class SpawnError(HostError):
    """A process could not be started (missing executable, bad working_dir, unknown user...)."""


# --- trust ---------------------------------------------------------------------------------------


class UnsafePathError(CircusError):
    """A directory for sockets, locks or pid files that another user could tamper with (owned
    by someone else, group/world writable, or a symlink): circusd refuses to use it."""

    errno = Errno.OS_ERROR


class KernelUntrusted(KernelError):
    """The process serving the kernel socket runs as another user: never talk to it."""
