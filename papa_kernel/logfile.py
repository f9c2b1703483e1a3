"""circusd's log file handler: :class:`ReopeningFileHandler` (the kernel itself logs through
:class:`papa_kernel.logwriter.LogWriter`, which reopens its file the same way).

It does the job of :class:`logging.handlers.WatchedFileHandler` (a log file moved or removed
by logrotate is reopened at the next record) without importing :mod:`logging.handlers`, which
brings pickle, queue, copy and struct: 0.5 MB of resident memory for handlers never used.
"""

from __future__ import annotations

import logging

from papa_kernel.logwriter import path_identity


class ReopeningFileHandler(logging.FileHandler):
    """Appends to ``path``; reopens it when the path no longer names the open file."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._identity = path_identity(self.baseFilename)

    def emit(self, record: logging.LogRecord) -> None:
        identity = path_identity(self.baseFilename)
        if identity is None or identity != self._identity:  # rotated away: write a new file
            if self.stream is not None:
                self.stream.flush()
                self.stream.close()
            self.stream = self._open()
            self._identity = path_identity(self.baseFilename)
        super().emit(record)
