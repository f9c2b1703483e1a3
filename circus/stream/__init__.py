"""``circus.stream`` of the original Circus: the output stream classes, from :mod:`circus.streams`.

``stdout_stream.class = circus.stream.FileStream`` (the manual's default) names these same
classes. ``get_stream(conf)`` is :func:`circus.streams.build_stream`.
"""

from circus.streams import (
    FancyStdoutStream,
    FileStream,
    QueueStream,
    StdoutStream,
    TimedRotatingFileStream,
    WatchedFileStream,
)
from circus.streams import build_stream as get_stream
from circus.util.compat import facade

__all__ = [
    "FancyStdoutStream",
    "FileStream",
    "QueueStream",
    "StdoutStream",
    "TimedRotatingFileStream",
    "WatchedFileStream",
    "get_stream",
]

_MISSING = {
    "Redirector": "output is read by the process host (papa-kernel or circusd's own loop) and "
    "delivered to streams; there is no redirector object",
}
__getattr__, __dir__ = facade(__name__, {}, _MISSING)
