"""Append-only log files shared by every stream that writes the same path.

Why shared: ``stdout_stream`` and ``stderr_stream`` of a watcher (or several watchers) often name
the same file. Two independent handles would rotate it independently (one keeps writing into the
renamed ``.1``) and glue half lines of one writer to lines of another. So one :class:`LogFile` per
path and rotation policy is opened, reference-counted by :func:`acquire`/:func:`release`, and it
owns the line state of its destination.

Why unbuffered: the watcher acknowledges output to the process host once the stream returned;
``os.write`` hands the bytes to the OS kernel, so a crash of circusd loses nothing acknowledged.

Write errors raise :class:`OSError` carrying the file name (the watcher logs them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from circus.streams.lines import LineState

log = logging.getLogger(__name__)

#: Mode of a new log file (before the umask), like files created by logging handlers.
FILE_MODE = 0o644
_OPEN_FLAGS = os.O_APPEND | os.O_CREAT | os.O_CLOEXEC


class LogFile:
    """One open file, appended to with unbuffered writes. Subclasses add a rotation policy."""

    def __init__(self, path: str):
        self.path = path
        self.fd = -1
        self.size = 0
        self.lines = LineState()
        self.identity: tuple[int, int] = (0, 0)  # (st_dev, st_ino) of the open file

    @property
    def policy(self) -> object:
        """What must be equal (``==``) for two streams to share this file."""
        return type(self)

    @property
    def closed(self) -> bool:
        return self.fd < 0

    def open(self) -> None:
        """Open (creating) the file for appending; learn its size and whether it ends a line."""
        try:
            fd = os.open(self.path, os.O_RDWR | _OPEN_FLAGS, FILE_MODE)
        except PermissionError:  # a write-only file: we just cannot peek at its last byte
            fd = os.open(self.path, os.O_WRONLY | _OPEN_FLAGS, FILE_MODE)
        stat = os.fstat(fd)
        self.fd, self.size, self.identity = fd, stat.st_size, (stat.st_dev, stat.st_ino)
        self.lines = LineState(at_line_start=self._ends_with_newline())

    def _ends_with_newline(self) -> bool:
        if self.size == 0:
            return True
        try:
            return os.pread(self.fd, 1, self.size - 1) == b"\n"
        except OSError:  # not readable, or not seekable (a FIFO): assume a fresh line
            return True

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)

    def reopen(self) -> None:
        """Close and open the path again (it may be a new file now)."""
        self.close()
        self._guard(self.open)

    def ensure_open(self) -> None:
        """Open the file unless it is open."""
        if self.fd < 0:
            self._guard(self.open)

    def prepare(self, timestamp: float) -> None:
        """Called before rendering each chunk: open if needed, rotate if due."""
        self.ensure_open()

    def write(self, data: bytes) -> None:
        """Write all of ``data`` (a rendered chunk)."""
        self._write_all(data)

    def _write_all(self, data: bytes) -> None:
        written = 0
        try:
            written = os.write(self.fd, data)
            if written < len(data):  # interrupted or short write: finish it
                view = memoryview(data)
                while written < len(data):
                    written += os.write(self.fd, view[written:])
        except OSError as exc:
            raise OSError(exc.errno, f"cannot write: {exc.strerror}", self.path) from exc
        finally:
            self.size += written

    def _guard(self, action: Callable[[], None]) -> None:
        try:
            action()
        except OSError as exc:
            if exc.filename:
                raise
            raise OSError(exc.errno, exc.strerror, self.path) from exc


class WatchedLogFile(LogFile):
    """Reopens the path when an external tool moved or deleted the file (one stat per chunk)."""

    def prepare(self, timestamp: float) -> None:
        if self.fd >= 0:
            try:
                stat = os.stat(self.path)
                moved = (stat.st_dev, stat.st_ino) != self.identity
            except FileNotFoundError:
                moved = True
            if not moved:
                return
            log.debug("%s was moved or deleted: reopening", self.path)
            self.close()
        self._guard(self.open)


class SizeRotatingLogFile(LogFile):
    """Rotates ``path`` -> ``path.1`` -> ... -> ``path.N`` before a write would exceed
    ``max_bytes``.

    A chunk is split at its last newline that still fits, so files stay within ``max_bytes``
    and lines stay whole, except for a single line longer than a whole file (cut at the limit).
    """

    def __init__(self, path: str, max_bytes: int, backup_count: int):
        super().__init__(path)
        self.max_bytes = max_bytes
        self.backup_count = backup_count

    @property
    def policy(self) -> object:
        return (type(self), self.max_bytes, self.backup_count)

    def write(self, data: bytes) -> None:
        while data:
            room = self.max_bytes - self.size
            if len(data) <= room:
                self._write_all(data)
                return
            cut = data.rfind(b"\n", 0, max(room, 0)) + 1
            if cut == 0:
                if self.size > 0:
                    self.rotate()
                    continue
                cut = room  # an empty file and no line end fits: cut inside the line
            self._write_all(data[:cut])
            data = data[cut:]
            self.rotate()

    def rotate(self) -> None:
        """Shift the backups up by one, drop the oldest, and start an empty file."""
        self.close()
        try:
            for index in range(self.backup_count - 1, 0, -1):
                older = f"{self.path}.{index}"
                if os.path.lexists(older):
                    os.replace(older, f"{self.path}.{index + 1}")
            if os.path.lexists(self.path):
                os.replace(self.path, f"{self.path}.1")
        finally:
            self._guard(self.open)


# --- sharing -------------------------------------------------------------------------------------

F = TypeVar("F", bound=LogFile)

_registry_lock = threading.Lock()
_registry: dict[str, LogFile] = {}
_refcounts: dict[int, int] = {}  # id(LogFile) -> number of streams holding it


def acquire(path: str, factory: Callable[[str], F]) -> F:
    """The open log file for ``path`` made by ``factory``, shared with other streams using the
    same path and policy. A different policy on the same path gets its own handle (with a
    warning: it is normal while a reload replaces a stream, a mistake otherwise)."""
    key = os.path.abspath(path)
    candidate = factory(key)
    with _registry_lock:
        current = _registry.get(key)
        if current is not None and current.policy == candidate.policy:
            current.ensure_open()
            _refcounts[id(current)] += 1
            # equal policies include the class (LogFile.policy): current is what factory makes
            return current  # type: ignore[return-value]
        candidate.ensure_open()  # opens it, raising OSError naming the path
        if current is None:
            _registry[key] = candidate
        else:
            log.warning("%s is written by streams with different rotation settings", key)
        _refcounts[id(candidate)] = 1
        return candidate


def release(logfile: LogFile) -> None:
    """Drop one reference; the last one closes the file."""
    with _registry_lock:
        count = _refcounts.get(id(logfile), 0) - 1
        if count > 0:
            _refcounts[id(logfile)] = count
            return
        _refcounts.pop(id(logfile), None)
        if _registry.get(logfile.path) is logfile:
            del _registry[logfile.path]
    logfile.close()
