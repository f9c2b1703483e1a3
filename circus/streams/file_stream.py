"""Streams that append output to a file: plain or size-rotated, watched, time-rotated."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from circus.streams import logfile
from circus.streams.base import BaseStream, Message, message_timestamp
from circus.streams.lines import decorate, line_prefix
from circus.streams.options import convert

if TYPE_CHECKING:
    import datetime


log = logging.getLogger(__name__)


class _LogFileStream(BaseStream):
    """Writes chunks to a shared :class:`~circus.streams.logfile.LogFile`, optionally
    prefixing every line with ``"<time> [<pid>] | "`` (the original Circus format)."""

    def __init__(self, filename: str, time_format: str | None = None, utc: bool = False):
        # converted by the subclass (with its other options): every bad value is reported
        self.filename = filename
        self.time_format = time_format
        self._tz = _utc() if utc else None
        self._head_key: tuple[float, Any] | None = None
        self._head = b""
        self._file: logfile.LogFile | None = None
        self._open()

    def _make_file(self, path: str) -> logfile.LogFile:
        raise NotImplementedError

    def _open(self) -> logfile.LogFile:
        self._file = logfile.acquire(self.filename, self._make_file)
        return self._file

    def __call__(self, message: Message) -> None:
        data = message["data"]
        if not data:
            return
        file = self._file or self._open()
        timestamp = message_timestamp(message)
        writer = (message.get("pid"), message.get("name"))
        file.prepare(timestamp)
        if self.time_format is not None:
            data = decorate(data, writer, file.lines, self._line_head(timestamp, writer[0]))
        file.write(data)
        file.lines.advance(data, writer)

    def _line_head(self, timestamp: float, pid: Any) -> bytes:
        key = (timestamp, pid)
        if key != self._head_key:
            self._head = line_prefix(self.time_format, timestamp, pid, self._tz)
            self._head_key = key
        return self._head

    def close(self) -> None:
        """Release the file (closed when no other stream uses it). Idempotent; a later call
        reopens it."""
        file, self._file = self._file, None
        if file is not None:
            logfile.release(file)

    def reopen(self) -> None:
        """Close and reopen the file, e.g. after logrotate moved it."""
        if self._file is None:
            self._open()
        else:
            self._file.reopen()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.filename!r}>"


class FileStream(_LogFileStream):
    """Appends output to ``filename``; with ``max_bytes`` and ``backup_count`` both set, rotates
    it to ``filename.1`` ... ``filename.<backup_count>`` before it would exceed ``max_bytes``."""

    def __init__(
        self,
        filename: Any = None,
        time_format: Any = None,
        max_bytes: Any = 0,
        backup_count: Any = 0,
    ):
        o = convert(
            filename=filename,
            time_format=time_format,
            max_bytes=max_bytes,
            backup_count=backup_count,
        )
        self.max_bytes: int = o["max_bytes"]
        self.backup_count: int = o["backup_count"]
        if self.max_bytes and not self.backup_count:
            log.warning(
                "%s: max_bytes has no effect without backup_count (as in the original "
                "Circus): the file is not rotated",
                o["filename"],
            )
        super().__init__(o["filename"], o["time_format"])

    def _make_file(self, path: str) -> logfile.LogFile:
        if self.max_bytes and self.backup_count:
            return logfile.SizeRotatingLogFile(path, self.max_bytes, self.backup_count)
        return logfile.LogFile(path)


class WatchedFileStream(_LogFileStream):
    """Appends output to ``filename`` and reopens it when an external tool (logrotate) moved or
    deleted it: one ``stat`` per chunk."""

    def __init__(self, filename: Any = None, time_format: Any = None):
        o = convert(filename=filename, time_format=time_format)
        super().__init__(o["filename"], o["time_format"])

    def _make_file(self, path: str) -> logfile.LogFile:
        return logfile.WatchedLogFile(path)


class TimedRotatingFileStream(_LogFileStream):
    """Appends output to ``filename`` and renames it ``filename.<period start>`` when output of
    a later period arrives (see :mod:`circus.streams.timed`). With ``utc`` the periods, the file
    suffixes and the time prefix use UTC, otherwise local time."""

    def __init__(
        self,
        filename: Any = None,
        backup_count: Any = 0,
        time_format: Any = None,
        rotate_when: Any = "H",
        rotate_interval: Any = 1,
        utc: Any = False,
    ):
        o = convert(
            filename=filename,
            backup_count=backup_count,
            time_format=time_format,
            rotate_when=rotate_when,
            rotate_interval=rotate_interval,
            utc=utc,
        )
        self.backup_count: int = o["backup_count"]
        self.rotate_when: str = o["rotate_when"]
        self.rotate_interval: int = o["rotate_interval"]
        self.utc: bool = o["utc"]
        super().__init__(o["filename"], o["time_format"], utc=self.utc)

    def _make_file(self, path: str) -> logfile.LogFile:
        # imported here: the module (and datetime) only for time-rotated files
        from circus.streams.timed import TimedRotatingLogFile

        return TimedRotatingLogFile(
            path, self.rotate_when, self.rotate_interval, self.utc, self.backup_count
        )


def _utc() -> datetime.tzinfo:
    import datetime  # only for utc = true: kept out of circusd's memory otherwise

    return datetime.UTC
