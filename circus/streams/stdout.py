"""Streams that write to circusd's own stdout/stderr.

:class:`StdoutStream` is the default for a watcher without a stream, so it is on the hot path: it
writes the raw bytes with ``os.write`` (no decode, no Python buffer) and it never raises: when
circusd's stdout is closed, a broken pipe or a full non-blocking pipe, the bytes are dropped and
counted in :attr:`FdSink.dropped` (the worker must not suffer because nobody reads circusd).
"""

from __future__ import annotations

import os
import select
import time
from typing import Any

from circus.config.stream_options import COLORS
from circus.streams.base import BaseStream, Message, message_timestamp
from circus.streams.lines import LineState, decorate, line_prefix
from circus.streams.options import convert

#: Longest time a write may wait for a full non-blocking stdout before dropping the rest.
MAX_BLOCKED_WAIT = 1.0

_RESET = b"\033[0m"
_COLOR_NAMES = tuple(COLORS)


class FdSink:
    """A file descriptor of circusd (1 or 2) shared by every stream writing to it."""

    def __init__(self, fd: int):
        self.fd = fd
        self.lines = LineState()
        self.dropped = 0  # bytes that could not be written

    def write(self, data: bytes) -> None:
        """Write all of ``data`` if possible; never raise."""
        try:
            written = os.write(self.fd, data)
        except BlockingIOError:
            written = 0
        except OSError:
            self.dropped += len(data)
            return
        if written < len(data):
            self._finish(memoryview(data), written)

    def _finish(self, view: memoryview, written: int) -> None:
        deadline = time.monotonic() + MAX_BLOCKED_WAIT
        while written < len(view):
            try:
                written += os.write(self.fd, view[written:])
                continue
            except BlockingIOError:
                pass
            except OSError:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                select.select([], [self.fd], [], remaining)
            except (OSError, ValueError):
                break
        self.dropped += len(view) - written


_sinks: dict[int, FdSink] = {}


def fd_sink(fd: int) -> FdSink:
    """The shared sink of ``fd``."""
    sink = _sinks.get(fd)
    if sink is None:
        sink = _sinks[fd] = FdSink(fd)
    return sink


class StdoutStream(BaseStream):
    """Raw bytes to circusd's stdout (``stdout`` messages) or stderr (``stderr`` messages)."""

    def __init__(self) -> None:
        self._out = fd_sink(1)
        self._err = fd_sink(2)

    def __call__(self, message: Message) -> None:
        data = message["data"]
        if not data:
            return
        sink = self._err if message.get("name") == "stderr" else self._out
        sink.write(data)
        sink.lines.at_line_start = data[-1:] == b"\n"
        sink.lines.writer = (message.get("pid"), message.get("name"))

    @property
    def dropped(self) -> int:
        """Bytes dropped so far because circusd's stdout/stderr could not take them."""
        return self._out.dropped + self._err.dropped


class FancyStdoutStream(BaseStream):
    """Coloured lines on circusd's stdout (both stdout and stderr messages, as the original):
    ``ESC[0;<color>;40m<time> [<pid>] | <line>ESC[0m``.

    ``color`` is a name (red, green, yellow, blue, magenta, cyan, white); without one, each
    process gets a colour picked from its pid, so processes are told apart. An empty
    ``time_format`` leaves only ``[<pid>] | ``.
    """

    def __init__(self, color: Any = None, time_format: Any = "%Y-%m-%d %H:%M:%S"):
        o = convert(color=color, time_format=time_format)
        self.color: str | None = o["color"]
        self.time_format: str | None = o["time_format"]
        self._sink = fd_sink(1)
        self._head_key: tuple[float, Any] | None = None
        self._head = self._color = b""

    def _color_code(self, pid: Any) -> bytes:
        name = self.color
        if name is None:
            name = _COLOR_NAMES[pid % len(_COLOR_NAMES)] if isinstance(pid, int) else "white"
        return b"\033[0;%d;40m" % COLORS[name]

    def __call__(self, message: Message) -> None:
        data = message["data"]
        if not data:
            return
        timestamp = message_timestamp(message)
        pid = message.get("pid")
        key = (timestamp, pid)
        if key != self._head_key:
            self._color = self._color_code(pid)
            self._head = self._color + line_prefix(self.time_format, timestamp, pid)
            self._head_key = key
        writer = (pid, message.get("name"))
        lines = self._sink.lines
        out = decorate(data, writer, lines, self._head, cont=self._color, tail=_RESET)
        self._sink.write(out)
        lines.advance(data, writer)
