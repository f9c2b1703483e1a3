"""Output streams: where circusd puts what workers write to stdout and stderr.

A stream is called with one message per chunk of output,
``{"data": bytes, "pid": int, "name": "stdout"|"stderr", "timestamp": float}``, and has
``close()`` and ``reopen()``. :func:`build_stream` makes one from a watcher's
``stdout_stream.*`` / ``stderr_stream.*`` options. See docs/streams.md.
"""

from circus.streams.base import BaseStream, Message, Stream, StreamOptionError
from circus.streams.build import BUILTINS, UserStream, build_stream, watcher_stream
from circus.streams.file_stream import FileStream, TimedRotatingFileStream, WatchedFileStream
from circus.streams.memory import NullStream, QueueStream
from circus.streams.stdout import FancyStdoutStream, StdoutStream

__all__ = [
    "BUILTINS",
    "BaseStream",
    "FancyStdoutStream",
    "FileStream",
    "Message",
    "NullStream",
    "QueueStream",
    "StdoutStream",
    "Stream",
    "StreamOptionError",
    "TimedRotatingFileStream",
    "UserStream",
    "WatchedFileStream",
    "build_stream",
    "watcher_stream",
]
