"""``circus.exc`` of the original Circus: its exceptions, from :mod:`circus.errors`."""

from circus.errors import AlreadyExistError as AlreadyExist
from circus.errors import ArgumentError, CallError, ConflictError, MessageError

__all__ = ["AlreadyExist", "ArgumentError", "CallError", "ConflictError", "MessageError"]
