"""Start one child process for :class:`~circus.hosts.local.LocalHost` (the fork/exec boundary).

Rationale:

- ``subprocess.Popen`` is used only as a *launcher*. CPython >= 3.10 starts children with
  ``vfork`` when no ``preexec_fn``/``user``/``group`` is given, which measured as fast as
  ``os.posix_spawn`` here (about 0.4 ms per ``sleep``; see docs/dev/hosts.md), and unlike
  ``os.posix_spawn`` it can change the working directory, the umask, the uid/gid and close every
  fd except ``pass_fds`` in the child, and it reports exec and chdir failures synchronously.
- The returned pid is *ours*: the host reaps it through a pidfd. ``Popen`` would otherwise reap it
  behind our back (``Popen.__del__`` polls, and ``subprocess._cleanup`` waits for abandoned
  children), so the launcher object is marked as collected before it is dropped.
- rlimits need code in the child: a ``preexec_fn`` (slower fork path) is used only when a spec
  asks for rlimits, and the values are validated here first so the child cannot fail obscurely.

:func:`start_child` is the one function :class:`LocalHost` calls; it can be swapped for the
kernel's spawn function (``papa_kernel.spawn``) without touching the host.
"""

from __future__ import annotations

import os
import pwd
import resource
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from circus.errors import SpawnError

#: A stream target of :class:`ChildStdio`: an fd, DEVNULL, or (stderr only) STDOUT.
DEVNULL = subprocess.DEVNULL
STDOUT = subprocess.STDOUT

# Popen's returncode is set to this right after the launch: it tells Popen the child was already
# waited for, so neither Popen.__del__ nor subprocess._cleanup() ever calls waitpid() on our pid.
_REAPED_ELSEWHERE = 0


@dataclass(frozen=True)
class ChildStdio:
    """Where fds 0, 1 and 2 of the child come from."""

    stdin: int = DEVNULL
    stdout: int = DEVNULL
    stderr: int = DEVNULL


@dataclass(frozen=True)
class ChildSpec:
    """A fully resolved start request (sockets already substituted into ``argv``)."""

    argv: tuple[str, ...]
    executable: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    uid: int | None = None
    gid: int | None = None
    umask: int | None = None
    rlimits: Mapping[str, int | None] = field(default_factory=dict)
    pass_fds: tuple[int, ...] = ()
    stdio: ChildStdio = ChildStdio()


def rlimit_resource(name: str) -> int:
    """``resource.RLIMIT_*`` for ``nofile``, ``NOFILE`` or ``rlimit_nofile``; else SpawnError."""
    key = name.strip().upper()
    key = key.removeprefix("RLIMIT_")
    value = getattr(resource, f"RLIMIT_{key}", None)
    if not key.isidentifier() or value is None:
        raise SpawnError(f"unknown rlimit {name!r}")
    return value


def _checked_rlimits(rlimits: Mapping[str, int | None]) -> list[tuple[int, int]]:
    """Validate rlimits in the parent; return ``(resource, value)`` pairs (soft = hard = value)."""
    checked = []
    is_root = os.geteuid() == 0
    for name, value in rlimits.items():
        res = rlimit_resource(name)
        if value is None:
            limit = resource.RLIM_INFINITY
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            limit = value
        else:
            raise SpawnError(f"rlimit {name!r}: expected an integer >= 0 or None, not {value!r}")
        if not is_root:
            hard = resource.getrlimit(res)[1]
            if hard != resource.RLIM_INFINITY and (limit == resource.RLIM_INFINITY or limit > hard):
                raise SpawnError(f"rlimit {name!r}: {value} is above the hard limit {hard}")
        checked.append((res, limit))
    return checked


def _identity(uid: int | None, gid: int | None) -> dict:
    """Popen keyword arguments for uid/gid (with the user's supplementary groups)."""
    if uid is None and gid is None:
        return {}
    if uid is not None and uid == os.geteuid() and gid in (None, os.getegid()):
        return {}  # already that user: nothing to change (and no privilege needed)
    kwargs: dict = {}
    user = None
    if uid is not None:
        try:
            user = pwd.getpwuid(uid)
        except KeyError:
            user = None
        kwargs["user"] = uid
        if gid is None:
            if user is None:
                raise SpawnError(f"uid {uid} has no passwd entry: give a gid too")
            gid = user.pw_gid
    kwargs["group"] = gid
    if uid is not None:
        kwargs["extra_groups"] = os.getgrouplist(user.pw_name, gid) if user else []
    return kwargs


def _spawn_error(exc: OSError, spec: ChildSpec) -> SpawnError:
    program = spec.executable or spec.argv[0]
    if spec.working_dir is not None and exc.filename == spec.working_dir:
        return SpawnError(f"bad working_dir {spec.working_dir!r}: {exc.strerror}")
    return SpawnError(f"cannot execute {program!r}: {exc.strerror or exc}")


def start_child(spec: ChildSpec) -> int:
    """Start the child in its own session and return its pid. Raises SpawnError.

    Only ``pass_fds`` (at their numbers) and the three stdio fds are inherited. The caller owns
    the pid: it must reap it (the host does, through a pidfd).
    """
    if not spec.argv:
        raise SpawnError("empty argv: nothing to execute")
    if spec.working_dir is not None and not os.path.isdir(spec.working_dir):
        raise SpawnError(f"bad working_dir {spec.working_dir!r}: not an existing directory")
    limits = _checked_rlimits(spec.rlimits)
    preexec = None
    if limits:

        def preexec() -> None:  # runs in the child between fork and exec: keep it trivial
            for res, limit in limits:
                resource.setrlimit(res, (limit, limit))

    try:
        launcher = subprocess.Popen(
            list(spec.argv),
            executable=spec.executable,
            env=dict(spec.env),
            cwd=spec.working_dir,
            umask=-1 if spec.umask is None else spec.umask,
            stdin=spec.stdio.stdin,
            stdout=spec.stdio.stdout,
            stderr=spec.stdio.stderr,
            close_fds=True,
            pass_fds=spec.pass_fds,
            start_new_session=True,
            preexec_fn=preexec,
            **_identity(spec.uid, spec.gid),
        )
    except OSError as exc:
        raise _spawn_error(exc, spec) from None
    except subprocess.SubprocessError as exc:
        raise SpawnError(f"cannot start {spec.argv[0]!r}: setting rlimits failed ({exc})") from None
    except (ValueError, TypeError) as exc:
        raise SpawnError(f"cannot start {spec.argv[0]!r}: {exc}") from None
    launcher.returncode = _REAPED_ELSEWHERE
    return launcher.pid


def argv_text(argv: Sequence[str]) -> str:
    """The ``args`` text of a process listing: arguments joined by single spaces."""
    return " ".join(argv)
