"""``circusd --daemon``: detach (papa-kernel's :func:`papa_kernel.daemon.daemonize`), and have
the command wait for the daemon's start: it exits 0 once the daemon says it is ready, or prints
the daemon's reason and exits with its status when the start failed (a port or endpoint in use,
a pid file of a live circusd...). A daemon that dies without a word (killed, crashed) closes the
pipe, which the command reports too.
"""

from __future__ import annotations

import sys

from papa_kernel import daemon

#: exit status of the launcher when the daemon ended without saying how its start went
EXIT_NO_REPORT = 1


class StartReport:
    """The daemon's end of the pipe to its launcher. Only the first report counts."""

    def __init__(self, fd: int):
        self._fd: int | None = fd

    def ready(self) -> None:
        self._send("0")

    def failed(self, code: int, reason: str) -> None:
        self._send(f"{code} {reason}")

    def close(self) -> None:
        """Close the pipe without a report (the launcher says the daemon ended)."""
        self._send("")

    def _send(self, text: str) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            daemon.report(fd, text)


def daemonize() -> StartReport:
    """Detach; returns, in the daemon, where to report how the start went."""
    return StartReport(daemon.daemonize(_relay))


def _relay(report: str) -> int:
    """The launcher: print the daemon's reason, if any; its exit status."""
    code, _, reason = report.strip().partition(" ")
    if not code.isdigit():
        print("circusd: the daemon ended before it was ready (see its log)", file=sys.stderr)
        return EXIT_NO_REPORT
    if reason:
        print(f"circusd: {reason}", file=sys.stderr)
    return int(code)
