"""Per-line decoration of chunked output, correct across chunk boundaries.

Chunks are not line-aligned, so whether a chunk starts a new line depends on what was written
before to the same destination (file or terminal). :class:`LineState` remembers that, per
destination, so every stream writing there (stdout and stderr of several processes) agrees.

Rules, all decided once per chunk (never per byte: one ``bytes.replace`` does the lines):

- a line gets its ``head`` (time and pid prefix) when it starts, with the timestamp of the chunk
  that started it;
- a chunk that continues the same writer's unfinished line gets ``cont`` (a colour, or nothing);
- a chunk from another writer while a line is unfinished first ends that line with ``\\n``, so a
  prefixed line never mixes two writers' bytes;
- ``tail`` (a colour reset) ends every line and every unfinished piece.

Bytes are never decoded: invalid UTF-8 passes through untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from papa_kernel.records import record

if TYPE_CHECKING:
    import datetime

NEWLINE = b"\n"


@record
class LineState:
    """Where the destination stands: at the start of a line, or inside ``writer``'s line."""

    at_line_start: bool = True
    writer: Any = None

    def advance(self, data: bytes, writer: Any) -> None:
        """Record that ``data`` (non-empty) by ``writer`` was written."""
        self.at_line_start = data[-1:] == NEWLINE
        self.writer = writer


def decorate(
    data: bytes, writer: Any, state: LineState, head: bytes, cont: bytes = b"", tail: bytes = b""
) -> bytes:
    """Return ``data`` (non-empty) with ``head`` at every line start (see the module rules)."""
    if state.at_line_start:
        start = head
    elif state.writer == writer:
        start = cont
    else:
        start = NEWLINE + head
    body = data.replace(NEWLINE, tail + NEWLINE + head)
    if data[-1:] == NEWLINE:
        body = body[: len(body) - len(head)]
    else:
        body += tail
    return start + body


def line_prefix(
    time_format: str | None, timestamp: float, pid: Any, tz: datetime.tzinfo | None = None
) -> bytes:
    """``"<time> [<pid>] | "``, the original Circus line prefix (``"[<pid>] | "`` without a
    time format). The time is the chunk's ``timestamp`` in ``tz`` (local time when None)."""
    if time_format is None:
        return f"[{pid}] | ".encode()
    import datetime  # only with a time format: kept out of circusd's memory otherwise

    try:
        moment = datetime.datetime.fromtimestamp(timestamp, tz)
    except (OverflowError, OSError, ValueError):  # an absurd timestamp: use now
        moment = datetime.datetime.now(tz)
    if tz is None:
        moment = moment.astimezone()  # aware local time, so that %Z and %z work
    return f"{moment.strftime(time_format)} [{pid}] | ".encode("utf-8", "replace")
