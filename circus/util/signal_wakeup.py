"""Let a caught signal (Ctrl-C) end a blocking ZeroMQ poll at once.

Python runs a signal's handler (``KeyboardInterrupt`` for SIGINT) in the main thread, between two
bytecodes. A signal that arrives just before a blocking ``zmq_poll`` reaches its system call, or
that the kernel hands to another thread, interrupts nothing: the poll keeps waiting, and the
handler runs only when an event comes. ``circusctl listen`` then ignored a Ctrl-C until the next
event (seen in a loaded test run). Python also writes every caught signal to its *wakeup fd*
(:func:`signal.set_wakeup_fd`); polling the read end of that fd beside the ZeroMQ sockets ends the
wait whichever way the signal came.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading


class SignalWakeup:
    """A socket pair whose read end becomes readable when the process catches a signal."""

    def __init__(self, reader: socket.socket, writer: socket.socket) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    def install(cls) -> SignalWakeup | None:
        """Become the process's wakeup fd; None off the main thread (Python allows it only
        there) or when another owner (an asyncio loop) has it already: theirs stays."""
        if threading.current_thread() is not threading.main_thread():
            return None
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        if previous != -1:
            signal.set_wakeup_fd(previous)
            reader.close()
            writer.close()
            return None
        return cls(reader, writer)

    def fileno(self) -> int:
        """The read end, for a ``zmq.Poller`` (or select)."""
        return self._reader.fileno()

    def drain(self) -> None:
        """Empty the read end (the handlers themselves run in Python's own time)."""
        with contextlib.suppress(BlockingIOError):
            while self._reader.recv(512):
                pass

    def close(self) -> None:
        """Give the wakeup fd back (if it is still ours) and close the pair. Idempotent."""
        if self._writer.fileno() == -1:
            return
        if threading.current_thread() is threading.main_thread():
            current = signal.set_wakeup_fd(-1)
            if current not in (-1, self._writer.fileno()):
                signal.set_wakeup_fd(current)  # someone replaced ours: leave theirs
        self._reader.close()
        self._writer.close()
