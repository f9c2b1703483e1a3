"""A watcher's output stream that may fail: held output, bounded logging, retries.

Why: a stream that raises (a full disk, a removed directory, a broken user class) used to be
logged with a traceback per chunk (thousands a minute) while every chunk was acknowledged and
lost. Now:

- a chunk the stream could not take is *refused*: the watcher does not acknowledge it, the host
  keeps it (papa-kernel's bounded buffer, oldest dropped and counted beyond ``bufsize``, as while
  circusd is away) and delivers it again after a back-off (:data:`FIRST_RETRY` doubling up to
  :data:`MAX_RETRY`); until then later chunks of that stream are refused without a write;
- the log gets one line when the stream starts failing (the error, and the traceback for a
  non-OS error, which is a bug of a stream class) and one when it works again, with counts;
- the first chunk that goes through ends the failure: output resumes where it stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from circus.errors import ConfigError

log = logging.getLogger(__name__)

#: First delay before a failing stream is tried again; doubled on each failure.
FIRST_RETRY = 0.25
#: Longest delay between two tries of a failing stream.
MAX_RETRY = 5.0


class StreamGuard:
    """Writes to one stream and tracks whether it works. ``label`` names it in the log
    (``watcher web: stdout stream``)."""

    def __init__(self, label: str, clock: Callable[[], float] = time.monotonic):
        self.label = label
        self._clock = clock
        self.failing_since: float | None = None
        self.retry_at = 0.0
        self.delay = FIRST_RETRY
        self.attempts = 0  # failed writes since the failure began
        self.refused = 0  # chunks refused (held by the host for a later try)
        self.lost = 0  # bytes refused that the host could not keep (their process exited)

    @property
    def failing(self) -> bool:
        return self.failing_since is not None

    def retry_in(self) -> float:
        """Seconds until the stream should be tried again (0 when it works)."""
        return max(0.0, self.retry_at - self._clock()) if self.failing else 0.0

    def write(self, stream: Callable[[Any], None], message: dict[str, Any]) -> bool:
        """Hand ``message`` to ``stream``. False if the chunk was refused (not written)."""
        now = self._clock()
        if self.failing and now < self.retry_at:
            self.refused += 1
            return False
        try:
            stream(message)
        except Exception as exc:  # any stream error: refuse the chunk, never crash circusd
            self._failed(now, exc)
            return False
        if self.failing:
            self._recovered(now)
        return True

    def lose(self, nbytes: int) -> None:
        """Refused bytes the host could not keep (the process exited): counted in the log."""
        self.lost += nbytes

    def _failed(self, now: float, exc: Exception) -> None:
        self.attempts += 1
        self.refused += 1
        if self.failing_since is None:
            self.failing_since, self.delay = now, FIRST_RETRY
            log.error(
                "%s failed: %s: %s; its output is kept by the process host (bounded, oldest "
                "dropped and counted) and the stream is retried every %g s at most",
                self.label,
                type(exc).__name__,
                exc,
                MAX_RETRY,
                # anything else is a bug in a stream class: show where
                exc_info=not isinstance(exc, OSError | ConfigError),
            )
        else:
            self.delay = min(self.delay * 2, MAX_RETRY)
        self.retry_at = now + self.delay

    def _recovered(self, now: float) -> None:
        assert self.failing_since is not None
        lost = f", {self.lost} bytes lost with exited processes" if self.lost else ""
        log.warning(
            "%s works again after %.1f s: %d failed tries, %d chunk deliveries deferred%s",
            self.label,
            now - self.failing_since,
            self.attempts,
            self.refused,
            lost,
        )
        self.failing_since = None
        self.attempts = self.refused = self.lost = 0
        self.delay = FIRST_RETRY
