"""Detach into a daemon whose launcher waits for its verdict (``papa-kernel --daemon``,
``circusd --daemon``).

Classic double fork: the daemon is in a new session, not a session leader (it can never get a
terminal), with stdin/stdout/stderr on /dev/null and cwd ``/``. The process that ran the
command does not exit at once: it reads a report from a pipe until the daemon closes its end
(after "ready", or the reason its start failed), and exits with the status ``relay`` gives that
report, so a failed start is not an exit 0 with the reason only in a log. A daemon that dies
without a word closes the pipe too: ``relay`` then gets an empty report.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable


def daemonize(relay: Callable[[str], int]) -> int:
    """Detach (see the module docstring); returns, in the daemon only, the pipe to write the
    report to (then close it: :func:`report`). ``relay(report)`` runs in the launcher and gives
    its exit status (``os._exit``: no atexit handlers, no buffered output replayed)."""
    read_fd, write_fd = os.pipe()  # not inherited by what the daemon starts (O_CLOEXEC)
    if os.fork():  # the launcher
        os.close(write_fd)
        chunks = []
        while chunk := os.read(read_fd, 65536):
            chunks.append(chunk)
        os._exit(relay(b"".join(chunks).decode("utf-8", "replace")))
    os.close(read_fd)
    os.setsid()
    if os.fork():
        os._exit(0)  # the session leader leaves; the daemon can never get a terminal
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)
    return write_fd


def report(fd: int, text: str) -> None:
    """Send the launcher ``text`` and close the pipe (a launcher that is gone is no error)."""
    with contextlib.suppress(OSError):
        os.write(fd, text.encode("utf-8", "replace"))
    os.close(fd)
