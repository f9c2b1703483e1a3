"""Detach the current process from its terminal and parent (double fork + setsid)."""

from __future__ import annotations

import os


def daemonize() -> None:
    """Classic double fork: the grandchild is in a new session, not a session leader, with
    stdin/stdout/stderr on /dev/null and cwd ``/``. The original process and the intermediate
    child exit with status 0 (``os._exit``: no atexit handlers, no buffered output replayed)."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)
