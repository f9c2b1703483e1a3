"""Support processes end with circusd: :func:`die_with_parent`.

A support process (a plugin, circusd-stats, circushttpd) is a direct child of circusd. If
circusd is killed with SIGKILL it cannot stop them, and the next circusd would start a second
copy beside the orphan (two watchdogs on one port). On Linux, ``prctl(PR_SET_PDEATHSIG)`` has the
kernel send a signal to the child when its parent ends; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import os
import signal

#: prctl(2) option: the signal this process gets when its parent ends.
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, signum: int = signal.SIGTERM) -> bool:
    """Ask for ``signum`` when our parent ends. ``parent`` is ``os.getppid()`` read as early as
    possible: if it already changed (the parent died before the request took effect), the
    signal is sent now. False if the platform cannot do it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):  # not Linux
        return False
    if os.getppid() != parent:
        os.kill(os.getpid(), signum)
    return True
