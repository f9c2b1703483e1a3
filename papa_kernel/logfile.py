"""The kernel's log file handler: :class:`ReopeningFileHandler`.

It does the job of :class:`logging.handlers.WatchedFileHandler` (a log file moved or removed
by logrotate is reopened at the next record) without importing :mod:`logging.handlers`, which
brings pickle, queue, copy and struct into the kernel: 0.5 MB of its resident memory for
handlers it never uses.
"""

from __future__ import annotations

import logging
import os


class ReopeningFileHandler(logging.FileHandler):
    """Appends to ``path``; reopens it when the path no longer names the open file."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._identity = self._path_identity()

    def _path_identity(self) -> tuple[int, int] | None:
        try:
            found = os.stat(self.baseFilename)
        except OSError:  # removed (or its directory is): a new file is made at the next record
            return None
        return found.st_dev, found.st_ino

    def emit(self, record: logging.LogRecord) -> None:
        identity = self._path_identity()
        if identity is None or identity != self._identity:  # rotated away: write a new file
            if self.stream is not None:
                self.stream.flush()
                self.stream.close()
            self.stream = self._open()
            self._identity = self._path_identity()
        super().emit(record)
