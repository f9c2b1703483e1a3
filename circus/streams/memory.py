"""Streams that keep output in memory or discard it."""

from __future__ import annotations

import queue
from typing import Any

from circus.streams.base import Message
from circus.streams.options import convert


class QueueStream(queue.Queue):
    """Puts every message (a copy of the dict) on itself, a :class:`queue.Queue`; for tests and
    library users. With ``maxsize`` > 0, messages arriving while the queue is full are dropped
    and counted in :attr:`dropped` rather than blocking circusd."""

    def __init__(self, maxsize: Any = 0):
        super().__init__(convert(maxsize=maxsize)["maxsize"])
        self.dropped = 0

    def __call__(self, message: Message) -> None:
        try:
            self.put_nowait(dict(message))
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        """Nothing to release; queued messages stay readable."""

    def reopen(self) -> None:
        """Nothing to reopen."""


class NullStream:
    """Discards every message: the output is read (the worker never blocks on a full pipe)
    and dropped. ``close_child_stdout`` instead gives the worker /dev/null."""

    def __call__(self, message: Message) -> None:
        pass

    def close(self) -> None:
        pass

    def reopen(self) -> None:
        pass
