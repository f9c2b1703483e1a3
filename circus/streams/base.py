"""What a stream is: the message it receives and the three methods it has.

A stream is called once per chunk of output a worker wrote. Chunks are not line-aligned. The
caller (the watcher) acknowledges the chunk to the process host only after the call returned, so
a stream that returned has handed the bytes to the operating system (files are unbuffered here).
"""

from __future__ import annotations

import time
from typing import Protocol, TypedDict, runtime_checkable


class Message(TypedDict, total=False):
    """One chunk of output. ``timestamp`` is when the host read the bytes (epoch seconds); it
    may be minutes old when buffered output is replayed after a restart of circusd."""

    data: bytes
    pid: int
    name: str  # "stdout" | "stderr"
    timestamp: float


@runtime_checkable
class Stream(Protocol):
    """The contract every stream honours."""

    def __call__(self, message: Message) -> None:
        """Take one chunk of output."""

    def close(self) -> None:
        """Release files; idempotent. A later call reopens what it needs."""

    def reopen(self) -> None:
        """Reopen files (after an external log rotation); may be a no-op."""


class BaseStream:
    """Convenience base class: no-op ``close``/``reopen`` and a ``with`` block that closes."""

    def __call__(self, message: Message) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release."""

    def reopen(self) -> None:
        """Nothing to reopen."""

    def __enter__(self) -> BaseStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class StreamOptionError(ValueError):
    """A stream constructor rejected the value of one or more options: ``option`` and
    ``reason`` name the first, ``problems`` lists every ``(option, reason)``."""

    def __init__(self, option: str, message: str, *more: tuple[str, str]):
        self.option = option
        self.reason = message
        self.problems: list[tuple[str, str]] = [(option, message), *more]
        super().__init__("; ".join(f"{key}: {text}" for key, text in self.problems))


def message_timestamp(message: Message) -> float:
    """The message's timestamp, or now for callers (old user code) that do not send one."""
    timestamp = message.get("timestamp")
    return time.time() if timestamp is None else timestamp
