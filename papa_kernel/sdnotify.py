"""systemd's readiness protocol (``sd_notify``) and socket activation (``LISTEN_FDS``), stdlib only.

Used by papa-kernel and by circusd (``Type=notify`` units, docs/deployment.md).

Why it is this small: the notification protocol is one datagram of ``KEY=VALUE`` lines sent to
the ``AF_UNIX`` socket named by ``$NOTIFY_SOCKET`` (a leading ``@`` names an abstract socket);
no reply, nothing to negotiate, so libsystemd is not needed. Without ``$NOTIFY_SOCKET`` (not
started by systemd) every call does nothing. A failed send is logged once and otherwise
ignored: readiness reporting must never take a daemon down.

The watchdog: systemd sets ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``) when the unit has
``WatchdogSec=``; the daemon must send ``WATCHDOG=1`` more often than that. Both daemons ping
from their event loop, at half the interval, so a loop that hangs stops pinging and systemd
kills and restarts the unit.

Socket activation: systemd passes listening sockets as fds 3, 4, ... with ``LISTEN_FDS`` (how
many), ``LISTEN_PID`` (for whom: a child must not take them) and ``LISTEN_FDNAMES``
(``FileDescriptorName=`` of the socket units, colon-separated).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Mapping, MutableMapping

from papa_kernel import klog

log = klog.get(__name__)

NOTIFY_SOCKET = "NOTIFY_SOCKET"
SD_LISTEN_FDS_START = 3  # systemd's first passed fd (sd-daemon.h)
MAX_LISTEN_FDS = 4096  # more than any unit passes; bounds a corrupt LISTEN_FDS
#: Fraction of WATCHDOG_USEC between two pings (systemd's documentation advises half).
WATCHDOG_FRACTION = 0.5


class Notifier:
    """Sends notifications to ``$NOTIFY_SOCKET`` (captured at creation); a no-op without it."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get(NOTIFY_SOCKET, "")
        self.address: str | bytes | None = None
        if address.startswith("@"):
            self.address = b"\0" + address[1:].encode()  # abstract namespace
        elif address.startswith("/"):
            self.address = address
        self.watchdog_interval = watchdog_interval(env)
        self._failed = False

    @property
    def enabled(self) -> bool:
        """True when started by a service manager that listens for notifications."""
        return self.address is not None

    def notify(self, *lines: str) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram; False if not sent."""
        if self.address is None:
            return False
        payload = "\n".join(lines).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(payload, self.address)
        except OSError as exc:
            if not self._failed:  # once: a missing listener must not flood the log
                log.warning("sd_notify to %s failed: %s", os.environ.get(NOTIFY_SOCKET), exc)
                self._failed = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1`` (with a ``STATUS=`` line if given)."""
        return self.notify("READY=1", *([f"STATUS={one_line(status)}"] if status else []))

    def status(self, text: str) -> bool:
        """``STATUS=``: shown by ``systemctl status``."""
        return self.notify(f"STATUS={one_line(text)}")

    def reloading(self) -> bool:
        """``RELOADING=1`` (with ``MONOTONIC_USEC=``, which ``Type=notify-reload`` of systemd
        253 and later requires): send :meth:`ready` when the reload is done."""
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={now}")

    def stopping(self, status: str | None = None) -> bool:
        """``STOPPING=1``."""
        return self.notify("STOPPING=1", *([f"STATUS={one_line(status)}"] if status else []))

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: the loop is alive."""
        return self.notify("WATCHDOG=1")


def one_line(text: str) -> str:
    """A STATUS value: one line (a newline would start a new assignment)."""
    return " ".join(text.split())


def watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Seconds between two ``WATCHDOG=1`` pings, or None if systemd wants none (no or a bad
    ``WATCHDOG_USEC``, or ``WATCHDOG_PID`` naming another process)."""
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or len(usec) > 18:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1e6 * WATCHDOG_FRACTION


def listen_fds(
    environ: MutableMapping[str, str] | None = None, unset: bool = True
) -> list[tuple[str, int]]:
    """The sockets systemd passed to this process: ``[(name, fd), ...]``, fds from 3.

    Only when ``LISTEN_PID`` is this process (or absent) and ``LISTEN_FDS`` is a number. A
    socket without a name gets ``unknown`` (systemd's own default name is the socket unit's
    name). The fds are made close-on-exec; with ``unset``, the ``LISTEN_*`` variables are
    removed so that no child takes them for its own.
    """
    env = os.environ if environ is None else environ
    count, pid = env.get("LISTEN_FDS", ""), env.get("LISTEN_PID", "")
    names = env.get("LISTEN_FDNAMES", "")
    if unset:
        for key in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
            env.pop(key, None)
    if not count.isdigit() or len(count) > 4 or (pid and pid != str(os.getpid())):
        return []
    number = min(int(count), MAX_LISTEN_FDS)
    given = names.split(":") if names else []
    result = []
    for index in range(number):
        fd = SD_LISTEN_FDS_START + index
        with contextlib.suppress(OSError):
            os.set_inheritable(fd, False)
        name = given[index] if index < len(given) and given[index] else "unknown"
        result.append((name, fd))
    return result
