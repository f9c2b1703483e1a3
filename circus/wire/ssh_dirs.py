"""The private directories of ssh tunnels (:mod:`circus.wire.ssh`): ``<tmp>/circus-ssh-XXXX``,
0700, holding the master's control socket, its log and the forwards' unix sockets, with the
owner's pid in :data:`OWNER_FILE`. A process killed by a signal cannot remove its own: the next
tunnel of the same user does (:func:`sweep_stale`)."""

from __future__ import annotations

import contextlib
import os

DIR_PREFIX = "circus-ssh-"
OWNER_FILE = "owner.pid"


def make_private() -> str:
    """A new 0700 directory recording this process as its owner; stale ones are swept first."""
    import tempfile  # imported when used: circusd imports circus.wire.ssh and never needs it

    sweep_stale()
    path = tempfile.mkdtemp(prefix=DIR_PREFIX)
    with open(os.path.join(path, OWNER_FILE), "w", encoding="ascii") as f:
        f.write(str(os.getpid()))
    return path


def remove(path: str) -> None:
    import shutil  # imported when used: see make_private

    shutil.rmtree(path, ignore_errors=True)


def sweep_stale() -> None:
    """Remove the tunnel directories of this user's processes that are gone (a tool killed by a
    signal it does not handle cannot remove its own; its ssh ended with it)."""
    import tempfile  # imported when used: see make_private

    base = tempfile.gettempdir()
    with contextlib.suppress(OSError):
        for name in os.listdir(base):
            path = os.path.join(base, name)
            if not name.startswith(DIR_PREFIX) or _owner_alive(path):
                continue
            remove(path)


def _owner_alive(path: str) -> bool:
    """False only for a directory of this user whose recorded owner process is gone."""
    try:
        if os.lstat(path).st_uid != os.geteuid():
            return True
        with open(os.path.join(path, OWNER_FILE), encoding="ascii") as f:
            os.kill(int(f.read().strip()), 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError):
        return True  # not ours, unreadable, or being created: leave it
    return True
