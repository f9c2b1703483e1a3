"""Detach the current process from its terminal and parent (double fork + setsid).

The process that ran ``circusd --daemon`` waits until the daemon has started: it exits 0 once
the daemon says it is ready, or prints the daemon's reason and exits with its status when the
start failed (a port or endpoint in use, a pid file of a live circusd...), so a failed start is
not an exit 0 with the reason only in the log. They talk over a pipe (:class:`StartReport`); a
daemon that dies without a word (killed, crashed) closes it, which the launcher also reports.
"""

from __future__ import annotations

import contextlib
import os
import sys

#: exit status of the launcher when the daemon ended without saying how its start went
EXIT_NO_REPORT = 1


class StartReport:
    """The daemon's end of the pipe to its launcher. Only the first report counts."""

    def __init__(self, fd: int):
        self._fd: int | None = fd

    def ready(self) -> None:
        self._send("0\n")

    def failed(self, code: int, reason: str) -> None:
        self._send(f"{code} {reason}\n")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _send(self, line: str) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # the launcher is gone (killed): nobody to tell
            os.write(self._fd, line.encode("utf-8", "replace"))
        self.close()


def daemonize() -> StartReport:
    """Classic double fork: the grandchild is in a new session, not a session leader, with
    stdin/stdout/stderr on /dev/null and cwd ``/``. The intermediate child exits 0 at once; the
    original process exits when the grandchild reports its start (see the module docstring)
    (``os._exit``: no atexit handlers, no buffered output replayed)."""
    read_end, write_end = os.pipe()  # not inherited by anything the daemon starts
    if os.fork() > 0:
        os.close(write_end)
        os._exit(_wait_for_start(read_end))
    os.close(read_end)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)
    return StartReport(write_end)


def _wait_for_start(fd: int) -> int:
    """The launcher: read the daemon's report until the pipe closes; its exit status."""
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    report = b"".join(chunks).decode("utf-8", "replace").strip()
    code, _, reason = report.partition(" ")
    if not code.isdigit():
        print("circusd: the daemon ended before it was ready (see its log)", file=sys.stderr)
        return EXIT_NO_REPORT
    if reason:
        print(f"circusd: {reason}", file=sys.stderr)
    return int(code)
