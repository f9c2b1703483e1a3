"""Where the kernel and circusd put their unix sockets by default.

DESIGN.md: endpoints live in a private runtime directory with mode 0700:
``$XDG_RUNTIME_DIR/circus``, ``/run/circus`` as root, else ``/tmp/circus-$UID``.
Shared by papa_kernel and circus so both agree on the defaults.
"""

from __future__ import annotations

import os
import stat

RUNTIME_DIR_MODE = 0o700
KERNEL_SOCKET_NAME = "papa.sock"


def runtime_dir() -> str:
    """Return the private runtime directory path (not created)."""
    return runtime_dir_of(os.environ.get("XDG_RUNTIME_DIR"), os.geteuid())


def runtime_dir_of(xdg_runtime_dir: str | None, uid: int) -> str:
    """The runtime directory of a user given its ``$XDG_RUNTIME_DIR`` and uid (also for a user
    on another host: ``--ssh``)."""
    if xdg_runtime_dir and os.path.isabs(xdg_runtime_dir):
        return os.path.join(xdg_runtime_dir, "circus")
    if uid == 0:
        return "/run/circus"
    return f"/tmp/circus-{uid}"


class UnsafeDirectory(PermissionError):
    """A directory for sockets, locks or pid files that another user could tamper with."""


def ensure_private_dir(path: str, mode: int = RUNTIME_DIR_MODE) -> str:
    """Create ``path`` (and missing parents) with ``mode`` if missing, then check it with
    :func:`check_private_dir`. Returns ``path`` as given.

    The deepest existing ancestor is checked first, so nothing is created inside a directory
    another user controls."""
    existing = os.path.abspath(path)
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if existing != os.path.abspath(path):
        _check_ancestors(existing, path)
    os.makedirs(path, mode=mode, exist_ok=True)
    check_private_dir(path)
    return path


def check_private_dir(path: str) -> None:
    """Refuse a directory for sockets, locks or pid files that another user could tamper with.

    ``path`` must be a directory owned by the running user and not writable by group or
    others: otherwise someone else could plant a socket (a kernel of their own) in it. Each
    ancestor must be owned by root or the running user and, if group or others may write it,
    be sticky (like ``/tmp``), or ``path`` could be renamed and replaced. ``path`` may be a
    symlink only if root or the running user owns it (``/var/run -> /run``): one planted by
    another user is refused; the directory it points to must pass the same rules.
    Raises :class:`UnsafeDirectory` naming the directory and what is wrong with it.
    """
    path = os.path.abspath(path)
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise UnsafeDirectory(f"{path}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        if info.st_uid not in (0, os.geteuid()):
            raise UnsafeDirectory(
                f"{path} is a symlink owned by uid {info.st_uid}, not by the running user "
                f"(uid {os.geteuid()}) or root; refusing to use it"
            )
        _check_ancestors(os.path.dirname(path), path)  # nobody else could replace the link
        target = os.path.realpath(path)
        check_private_dir(target)
        return
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectory(f"{path} is not a directory")
    problem = _ownership_problem(info, allow_root=False, allow_sticky=False)
    if problem:
        raise UnsafeDirectory(f"{path} {problem}; refusing to use it")
    _check_ancestors(os.path.dirname(path), path)


def _check_ancestors(directory: str, path: str) -> None:
    """Every directory from ``directory`` (resolved) up to ``/`` must be root's or ours, and
    sticky if group or others may write it."""
    ancestor = os.path.realpath(directory)
    while True:
        problem = _ownership_problem(os.stat(ancestor), allow_root=True, allow_sticky=True)
        if problem:
            raise UnsafeDirectory(
                f"{ancestor} (holding {path}) {problem}: that user could replace {path}"
            )
        if ancestor == os.path.dirname(ancestor):
            return
        ancestor = os.path.dirname(ancestor)


def _ownership_problem(info: os.stat_result, allow_root: bool, allow_sticky: bool) -> str:
    """What makes a directory unsafe for the running user ('' if nothing)."""
    me = os.geteuid()
    if info.st_uid != me and not (allow_root and info.st_uid == 0):
        return f"is owned by uid {info.st_uid}, not by the running user (uid {me})"
    sticky = allow_sticky and info.st_mode & stat.S_ISVTX
    if info.st_mode & 0o022 and not sticky:
        return f"is writable by group or others (mode {info.st_mode & 0o777:o})"
    return ""


def default_kernel_socket() -> str:
    """Default unix socket path of papa-kernel."""
    return os.path.join(runtime_dir(), KERNEL_SOCKET_NAME)


def unix_socket_served(path: str, timeout: float = 2.0) -> bool:
    """True if something accepts connections on the unix socket ``path`` (a stale socket
    file, a missing one or a non-socket all answer False)."""
    import socket  # here: the client tools (circusctl, circus-top) import this module

    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(timeout)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True
