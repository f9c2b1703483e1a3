"""A pid file that refuses to be taken over while its owner lives."""

from __future__ import annotations

import contextlib
import os

from circus.errors import CircusError
from circus.util.private_dirs import require_private_parent

PID_DIR_MODE = 0o755  # a missing pid-file directory is created readable: pids are not secret


class PidfileError(CircusError):
    pass


class Pidfile:
    """Write our pid to ``path`` (mode 0644); remove it on :meth:`unlink` if still ours."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.pid: int | None = None

    def validate(self) -> int | None:
        """The pid recorded in the file if that process is alive, else None."""
        try:
            with open(self.path) as f:
                pid = int(f.read().strip() or 0)
        except FileNotFoundError:
            return None
        except ValueError:
            return None
        if pid <= 0:
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def create(self, pid: int) -> None:
        other = self.validate()
        if other is not None and other != pid:
            raise PidfileError(
                f"pid file {self.path} holds the live pid {other}: is circusd already running?"
            )
        require_private_parent(self.path, f"pid file {self.path}", PID_DIR_MODE)
        tmp = f"{self.path}.{pid}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "w") as f:
            f.write(f"{pid}\n")
        os.replace(tmp, self.path)
        self.pid = pid

    def unlink(self) -> None:
        if self.pid is None:
            return
        with contextlib.suppress(OSError, ValueError), open(self.path) as f:
            if int(f.read().strip() or 0) == self.pid:
                os.unlink(self.path)
        self.pid = None
