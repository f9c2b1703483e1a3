"""The kernel's log writer: :class:`LogWriter`, the :mod:`papa_kernel.klog` sink of the kernel's
own process (``--log-level``, ``--log-file``), without :mod:`logging`.

A line is what ``logging.Formatter(LOG_FORMAT)`` made of a record::

    2026-12-02 00:17:41,691 papa-kernel[18366] INFO papa_kernel: papa-kernel ready pid=...

followed, for ``log.exception``, by the traceback. A log file is appended to and reopened when
its path no longer names the open file (logrotate moved or removed it), as
``logging.handlers.WatchedFileHandler`` does; it is opened at once, so a log file that cannot
be opened is a start-up error. A record that cannot be written is dropped: logging never
takes the kernel down.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

from papa_kernel.klog import LEVEL_NAMES
from papa_kernel.typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TextIO

#: What the lines look like (in logging's terms; the writer formats them itself).
LOG_FORMAT = "%(asctime)s papa-kernel[%(process)d] %(levelname)s %(name)s: %(message)s"
NOTHING = 100  # a level above CRITICAL: the writer of a daemon without a log file writes nothing


def path_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``; None if there is none (removed, or its
    directory is): a log file is reopened when this changes."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class LogWriter:
    """Writes records of ``level`` and above to the file at ``path``, to ``stream``, or (with
    neither) nowhere."""

    def __init__(self, level: int, path: str | None = None,
                 stream: TextIO | None = None) -> None:  # fmt: skip
        self.level = level if (path or stream) else NOTHING
        self.path = path
        self._stream = stream
        self._identity: tuple[int, int] | None = None
        if path:
            self._open()

    def _open(self) -> None:
        assert self.path is not None
        self._stream = open(self.path, "a", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
        self._identity = path_identity(self.path)

    def enabled(self, level: int) -> bool:
        """Whether a record of ``level`` is written."""
        return level >= self.level

    def emit(self, level: int, name: str, msg: str, args: tuple[object, ...],
             exc_info: bool) -> None:  # fmt: skip
        """Write one record as a line (and the current exception's traceback if ``exc_info``)."""
        line = format_line(level, name, msg, args, sys.exception() if exc_info else None)
        try:
            if self.path and path_identity(self.path) != self._identity:
                self.close()  # rotated away: write a new file at the path
                self._open()
            assert self._stream is not None
            self._stream.write(line)
            self._stream.flush()
        except (OSError, ValueError):  # full disk, closed stream: drop the record
            pass

    def close(self) -> None:
        """Close the log file (not a stream it was given)."""
        if self.path and self._stream is not None:
            stream, self._stream = self._stream, None
            with contextlib.suppress(OSError):
                stream.close()


def format_line(level: int, name: str, msg: str, args: tuple[object, ...],
                exc: BaseException | None = None) -> str:  # fmt: skip
    """One record as :data:`LOG_FORMAT` formats it, ending in a newline (then ``exc``'s
    traceback, if given)."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    try:
        message = msg % args if args else str(msg)
    except (TypeError, ValueError, KeyError) as error:  # a bad format: still say something
        message = f"{msg!r} % {args!r} (not logged as it should be: {error})"
    line = (f"{stamp},{int((now - int(now)) * 1000):03d} papa-kernel[{os.getpid()}] "
            f"{LEVEL_NAMES.get(level, f'Level {level}')} {name}: {message}\n")  # fmt: skip
    if exc is not None:
        import traceback  # only when an exception is logged (rare: an internal error)

        line += "".join(traceback.format_exception(exc))
    return line
