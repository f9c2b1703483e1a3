"""Start one child for :class:`~circus.hosts.local.LocalHost` through the kernel's spawn code.

circusd and papa-kernel start processes the same way: :func:`papa_kernel.spawn.spawn`
(``posix_spawn`` on the fast path, a minimal hand fork when uid/gid/rlimits are set; own session,
signal dispositions reset, pipes for captured streams, only ``pass_fds`` inherited at their
numbers). This module only adapts a :class:`SpawnSpec` to the kernel's ``SpawnRequest``,
validates what can be checked in the parent (rlimits above the hard limit, users) so errors
name the culprit, and turns the kernel's errors into :class:`circus.errors.SpawnError`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
from collections.abc import Mapping, Sequence

from circus.errors import SpawnError
from circus.hosts.base import OutputMode, SpawnSpec
from papa_kernel import errors as kernel_errors
from papa_kernel import spawn as kernel_spawn

MODES = {
    OutputMode.CAPTURE: kernel_spawn.CAPTURE,
    OutputMode.DEVNULL: kernel_spawn.DEVNULL,
    OutputMode.STDOUT: kernel_spawn.STDOUT,
}

Spawned = kernel_spawn.Spawned


def checked_rlimits(rlimits: Mapping[str, int | None]) -> dict[int, int]:
    """``{"nofile": 4096, "core": None}`` -> ``{RLIMIT_NOFILE: 4096, RLIMIT_CORE: INFINITY}``.

    SpawnError names an unknown rlimit, a bad value, or (not as root) a value above the hard
    limit, which the child could not set.
    """
    checked: dict[int, int] = {}
    for name, value in rlimits.items():
        key = name.strip().lower().removeprefix("rlimit_")
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise SpawnError(f"rlimit {name!r}: expected an integer >= 0 or None, not {value!r}")
        try:
            number, limit = kernel_spawn.resolve_rlimit(
                key, "unlimited" if value is None else str(value)
            )
        except kernel_errors.KernelError:
            raise SpawnError(f"unknown rlimit {name!r}") from None
        hard = kernel_spawn.rlimit_above_hard(number, limit)
        if hard is not None:
            raise SpawnError(f"rlimit {name!r}: {value} is above the hard limit {hard}")
        checked[number] = limit
    return checked


def identity(uid: int | None, gid: int | None) -> tuple[int | None, int | None, str | None]:
    """(uid, gid, user name for initgroups) to switch to; all None when nothing changes."""
    if uid is None and gid is None:
        return None, None, None
    if uid is not None and uid == os.geteuid() and gid in (None, os.getegid()):
        return None, None, None  # already that user: nothing to change, no privilege needed
    user_name = None
    if uid is not None:
        with contextlib.suppress(KeyError):
            entry = pwd.getpwuid(uid)
            user_name = entry.pw_name
            gid = entry.pw_gid if gid is None else gid
        if gid is None:
            raise SpawnError(f"uid {uid} has no passwd entry: give a gid too")
    return uid, gid, user_name


def start_child(
    spec: SpawnSpec, argv: Sequence[str], pass_fds: Sequence[int], stdin_fd: int | None
) -> Spawned:
    """Start ``spec`` with ``argv`` (sockets already substituted). Raises SpawnError.

    The result carries the pid, its pidfd and the non-blocking read ends of captured streams;
    the caller owns all three and must reap the pid.
    """
    if not argv:
        raise SpawnError(f"cannot spawn {spec.name}: empty argv, nothing to execute")
    if spec.working_dir is not None and not os.path.isdir(spec.working_dir):
        raise SpawnError(
            f"cannot spawn {spec.name}: bad working_dir {spec.working_dir!r} "
            f"(not an existing directory)"
        )
    uid, gid, user_name = identity(spec.uid, spec.gid)
    stdout = MODES[spec.stdout] if spec.stdout is not OutputMode.STDOUT else kernel_spawn.CAPTURE
    stderr = MODES[spec.stderr]
    if spec.bufsize is not None and spec.bufsize <= 0:  # bufsize=0: capture nothing (as papa)
        stdout = kernel_spawn.DEVNULL
        stderr = stderr if stderr == kernel_spawn.STDOUT else kernel_spawn.DEVNULL
    request = kernel_spawn.SpawnRequest(
        argv=tuple(argv),
        executable=spec.executable,
        env=dict(spec.env),
        working_dir=spec.working_dir,
        umask=spec.umask,
        uid=uid,
        gid=gid,
        user_name=user_name,
        rlimits=checked_rlimits(spec.rlimits),
        stdout=stdout,
        stderr=stderr,
        pass_fds=tuple(pass_fds),
        stdin_fd=stdin_fd,
    )
    try:
        return kernel_spawn.spawn(request, use_pidfd=True)
    except kernel_errors.KernelError as exc:
        raise SpawnError(f"cannot spawn {spec.name}: {exc}") from None


def argv_text(argv: Sequence[str]) -> str:
    """The ``args`` text of a process listing: arguments joined by single spaces."""
    return " ".join(argv)
