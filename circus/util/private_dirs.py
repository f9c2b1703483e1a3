"""The one check circusd applies to every directory it uses for sockets, locks and pid files.

A directory another local user could write to (or that is theirs, or a symlink) lets them
plant a socket of their own, such as a fake papa-kernel that would then run circusd's workers
and read their environment. The rules are :func:`papa_kernel.paths.check_private_dir`'s, so
circusd and the kernel refuse the same directories.
"""

from __future__ import annotations

import os

from circus.errors import UnsafePathError
from papa_kernel.paths import RUNTIME_DIR_MODE, UnsafeDirectory, ensure_private_dir


def require_private_dir(path: str, what: str, mode: int = RUNTIME_DIR_MODE) -> str:
    """Create ``path`` with ``mode`` if missing and check it is private to the running user.

    Raises :class:`UnsafePathError` naming ``what`` needs it (``endpoint ipc://...``, ``pid
    file ...``), the directory and what is wrong with it."""
    try:
        return ensure_private_dir(path, mode)
    except UnsafeDirectory as exc:
        raise UnsafePathError(f"{what}: {exc}") from None
    except OSError as exc:
        raise UnsafePathError(f"{what}: cannot create {path}: {exc.strerror}") from None


def require_private_parent(path: str, what: str, mode: int = RUNTIME_DIR_MODE) -> str:
    """:func:`require_private_dir` on the directory of the file ``path``; returns ``path``."""
    require_private_dir(os.path.dirname(os.path.abspath(path)), what, mode)
    return path
