"""Where the kernel and circusd put their unix sockets by default.

DESIGN.md: endpoints live in a private runtime directory with mode 0700:
``$XDG_RUNTIME_DIR/circus``, ``/run/circus`` as root, else ``/tmp/circus-$UID``.
Shared by papa_kernel and circus so both agree on the defaults.
"""

from __future__ import annotations

import os
import socket
import stat

RUNTIME_DIR_MODE = 0o700
KERNEL_SOCKET_NAME = "papa.sock"


def runtime_dir() -> str:
    """Return the private runtime directory path (not created)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "circus")
    if os.geteuid() == 0:
        return "/run/circus"
    return f"/tmp/circus-{os.geteuid()}"


def ensure_private_dir(path: str) -> str:
    """Create ``path`` with mode 0700 if missing; refuse one that others could tamper with.

    Raises PermissionError when the directory exists but is owned by another user or is
    group/other-writable (someone could plant a socket there).
    """
    os.makedirs(path, mode=RUNTIME_DIR_MODE, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise PermissionError(f"{path} is not a directory")
    if info.st_uid != os.geteuid():
        raise PermissionError(f"{path} is owned by uid {info.st_uid}, not by us ({os.geteuid()})")
    if info.st_mode & 0o022:
        raise PermissionError(
            f"{path} is writable by group or others (mode {info.st_mode & 0o777:o})"
        )
    return path


def default_kernel_socket() -> str:
    """Default unix socket path of papa-kernel."""
    return os.path.join(runtime_dir(), KERNEL_SOCKET_NAME)


def unix_socket_served(path: str, timeout: float = 2.0) -> bool:
    """True if something accepts connections on the unix socket ``path`` (a stale socket
    file, a missing one or a non-socket all answer False)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(timeout)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True
