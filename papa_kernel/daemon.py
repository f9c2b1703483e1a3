"""Detach into a daemon whose launcher waits for its verdict (``papa-kernel --daemon``,
``circusd --daemon``).

Classic double fork: the daemon is in a new session, not a session leader (it can never get a
terminal), with stdin/stdout/stderr on /dev/null and cwd ``/``. The process that ran the
command does not exit at once: it reads a report from a pipe until the daemon closes its end
(after "ready", or the reason its start failed), and exits with the status ``relay`` gives that
report, so a failed start is not an exit 0 with the reason only in a log. A daemon that dies
without a word closes the pipe too: ``relay`` then gets an empty report.

Once it has stopped serving, the daemon ends without tearing its interpreter down
(:func:`exit_now`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from collections.abc import Callable

from papa_kernel.typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import NoReturn


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


def exit_now(code: int) -> NoReturn:
    """End the daemon with status ``code`` at once (``os._exit``). A normal exit would clear
    every module and collect every object first (~1 ms of CPU at each kernel's end, which
    frees nothing the exit does not). What it does that matters is done here: the ``atexit``
    handlers run (the kernel registers none; a library might) and stdio is flushed (both are
    /dev/null in the daemon; the kernel's log writer flushes every record)."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
