"""Starting one child process from a :class:`SpawnRequest`.

Public, stable API (circusd's LocalHost imports it; keep the signatures):

- :class:`SpawnRequest` - argv, environment, working_dir, umask, uid/gid, rlimits, what to do
  with stdout/stderr, which fds the child inherits.
- :func:`spawn(request, use_pidfd=True) -> Spawned` - start it; ``Spawned`` carries pid, pidfd
  (None where pidfd_open is unavailable or not wanted) and the non-blocking read ends of the
  captured stdout/stderr pipes. Raises :class:`papa_kernel.errors.SpawnError` naming the cause.
- :func:`resolve_user`, :func:`resolve_group`, :func:`resolve_rlimit` - validate names early.

How (the fork/exec boundary):

- The fast path is ``os.posix_spawn`` (vfork + exec in glibc): own session (``setsid``), signal
  dispositions reset, stdin on /dev/null (or a socket), pipes dup2'ed onto 1 and 2. posix_spawn
  cannot chdir or set a umask, but the kernel is single-threaded, so it sets its *own* working
  directory and umask around the call and restores them right after; the child inherits them.
  Passed fds are made inheritable for the duration of the call only.
- uid/gid/rlimits need code between fork and exec. That slow path forks by hand; the child
  only applies the settings and execs. Any failure is written to a close-on-exec status pipe and
  the child leaves with ``os._exit(127)`` in ``finally``; the parent reads the pipe until EOF (exec
  closed it) and turns a message into SpawnError.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import resource
import signal
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from papa_kernel.errors import SpawnError
from papa_kernel.protocol import MAX_DIGITS, is_decimal, show_value
from papa_kernel.records import frozen_record, record
from papa_kernel.typenames import TYPE_CHECKING

CAPTURE, DEVNULL, STDOUT = "capture", "devnull", "stdout"  # stream modes
if TYPE_CHECKING:
    from papa_kernel.typenames import Any
NO_ENTRIES: Mapping[Any, Any] = MappingProxyType({})  # the empty default of env and rlimits
EXEC_FAILED = 127  # exit status of a hand-forked child that could not exec (shell convention)
UNLIMITED_WORDS = frozenset({"unlimited", "infinity", "-1"})
MAX_RLIMIT = 2**63 - 1  # setrlimit() takes a signed 64-bit value here (RLIM_INFINITY is -1)
MAX_ID = 2**32 - 2  # uid_t/gid_t; 2**32-1 is (uid_t)-1, "leave unchanged" to setresuid()
FileAction = tuple[int, int, int]  # (os.POSIX_SPAWN_DUP2, source fd, target fd)
# Dispositions the kernel may have set (Python ignores SIGPIPE/SIGXFSZ) that exec would keep.
SIGNALS_TO_DEFAULT = frozenset(
    getattr(signal, name)
    for name in (
        "SIGPIPE", "SIGXFSZ", "SIGHUP", "SIGINT", "SIGTERM", "SIGQUIT", "SIGUSR1", "SIGUSR2",
        "SIGCHLD", "SIGTSTP", "SIGTTIN", "SIGTTOU",
    )
    if hasattr(signal, name)
)  # fmt: skip


@frozen_record
class SpawnRequest:
    """Everything needed to start one child.

    ``rlimits`` maps ``resource.RLIMIT_*`` numbers to limits (``resource.RLIM_INFINITY`` for
    unlimited); soft and hard are both set. ``pass_fds`` are inherited at the same numbers.
    ``stdout`` is capture|devnull, ``stderr`` capture|devnull|stdout.
    """

    argv: tuple[str, ...]
    executable: str | None = None
    env: Mapping[str, str] = NO_ENTRIES
    working_dir: str | None = None
    umask: int | None = None
    uid: int | None = None
    gid: int | None = None
    user_name: str | None = None  # for initgroups when uid is set
    rlimits: Mapping[int, int] = NO_ENTRIES
    stdout: str = CAPTURE
    stderr: str = CAPTURE
    pass_fds: tuple[int, ...] = ()
    stdin_fd: int | None = None


@record
class Spawned:
    """A started child. The caller owns (and must close) ``pidfd``, ``stdout`` and ``stderr``."""

    pid: int
    pidfd: int | None
    stdout: int | None
    stderr: int | None


_devnull_fd: int | None = None


def _devnull() -> int:
    global _devnull_fd
    if _devnull_fd is None:
        _devnull_fd = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    return _devnull_fd


def resolve_user(value: str) -> tuple[int, int, str | None]:
    """A user name or number -> (uid, primary gid, name or None)."""
    if _is_number(value):
        uid = _check_id("uid", value)
        try:
            entry = pwd.getpwuid(uid)
        except KeyError:
            return uid, uid, None
    else:
        try:
            entry = pwd.getpwnam(value)
        except (KeyError, ValueError):  # ValueError: an embedded NUL
            raise SpawnError(f'Unknown user "{show_value(value)}"') from None
    return entry.pw_uid, entry.pw_gid, entry.pw_name


def resolve_group(value: str) -> int:
    """A group name or number -> gid."""
    if _is_number(value):
        return _check_id("gid", value)
    try:
        return grp.getgrnam(value).gr_gid
    except (KeyError, ValueError):
        raise SpawnError(f'Unknown group "{show_value(value)}"') from None


def resolve_rlimit(name: str, value: str) -> tuple[int, int]:
    """``("nofile", "1024")`` -> ``(resource.RLIMIT_NOFILE, 1024)``; unlimited words allowed."""
    number = getattr(resource, f"RLIMIT_{name.upper()}", None)
    if number is None or not name:
        raise SpawnError(f'Unknown rlimit "{show_value(name)}"')
    if value.lower() in UNLIMITED_WORDS:
        return number, resource.RLIM_INFINITY
    if not _is_number(value):
        raise SpawnError(
            f'Option "rlimit.{name}" must be an integer or "unlimited", not "{show_value(value)}"'
        )
    limit = int(value)
    if limit > MAX_RLIMIT:
        raise SpawnError(
            f'Option "rlimit.{name}" must be between 0 and {MAX_RLIMIT} (or "unlimited"), '
            f"not {show_value(value)}"
        )
    return number, limit


def rlimit_above_hard(number: int, limit: int) -> int | None:
    """The hard limit of rlimit ``number`` if ``limit`` is above it and only root could raise
    it (we are not root), else None."""
    if os.geteuid() == 0:
        return None
    hard = resource.getrlimit(number)[1]
    if hard != resource.RLIM_INFINITY and (limit == resource.RLIM_INFINITY or limit > hard):
        return hard
    return None


def check_rlimit_allowed(name: str, number: int, limit: int) -> None:
    """Refuse, before forking, a limit above the kernel's hard limit that only root may raise."""
    hard = rlimit_above_hard(number, limit)
    if hard is not None:
        shown = "unlimited" if limit == resource.RLIM_INFINITY else str(limit)
        raise SpawnError(
            f'Option "rlimit.{name}={shown}" is above the hard limit {hard} '
            "(only root may raise it)"
        )


def _is_number(value: str) -> bool:
    """ASCII digits only (:func:`~papa_kernel.protocol.is_decimal`), not absurdly long."""
    return is_decimal(value) and len(value) <= MAX_DIGITS


def _check_id(key: str, value: str) -> int:
    number = int(value)
    if number > MAX_ID:
        raise SpawnError(f'Option "{key}" must be between 0 and {MAX_ID}, not {show_value(value)}')
    return number


def find_executable(name: str, env: Mapping[str, str]) -> str:
    """Resolve a bare program name on the child's PATH (or the default path)."""
    if "/" in name:
        return name
    search = env.get("PATH") or os.defpath
    for directory in search.split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise SpawnError(f'Bad command - "{name}" not found on PATH {search}')


def spawn(request: SpawnRequest, use_pidfd: bool = True) -> Spawned:
    """Start the child described by ``request``; see the module docstring."""
    if not request.argv:
        raise SpawnError("Bad command - no program given")
    path = find_executable(request.executable or request.argv[0], request.env)
    out_r = out_w = err_r = err_w = None
    try:
        if request.stdout == CAPTURE:
            out_r, out_w = os.pipe()
        if request.stderr == CAPTURE:
            err_r, err_w = os.pipe()
        actions = _file_actions(request, out_w, err_w)
        if request.uid is not None or request.gid is not None or request.rlimits:
            pid = _fork_exec(request, path, actions)
        else:
            pid = _posix_spawn(request, path, actions)
    except BaseException:
        for fd in (out_r, err_r):
            if fd is not None:
                os.close(fd)
        raise
    finally:
        for fd in (out_w, err_w):
            if fd is not None:
                os.close(fd)
    pidfd = None
    if use_pidfd:
        with contextlib.suppress(OSError, AttributeError):
            pidfd = os.pidfd_open(pid)
    for fd in (out_r, err_r):
        if fd is not None:
            os.set_blocking(fd, False)
    return Spawned(pid=pid, pidfd=pidfd, stdout=out_r, stderr=err_r)


def _file_actions(request: SpawnRequest, out_w: int | None, err_w: int | None) -> list[FileAction]:
    """dup2 actions placing stdin, stdout and stderr (in that order)."""
    dup2 = os.POSIX_SPAWN_DUP2
    devnull = _devnull()
    stdin = request.stdin_fd if request.stdin_fd is not None else devnull
    actions = [(dup2, stdin, 0), (dup2, out_w if out_w is not None else devnull, 1)]
    if request.stderr == STDOUT:
        actions.append((dup2, 1, 2))
    else:
        actions.append((dup2, err_w if err_w is not None else devnull, 2))
    return actions


@contextlib.contextmanager
def _inherited(fds: tuple[int, ...]) -> Iterator[None]:
    """Make ``fds`` inheritable for the duration of one spawn (single-threaded kernel)."""
    for fd in fds:
        os.set_inheritable(fd, True)
    try:
        yield
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.set_inheritable(fd, False)


def _posix_spawn(request: SpawnRequest, path: str, actions: list[FileAction]) -> int:
    home = None
    if request.working_dir:  # O_PATH: coming back works even if "." is not readable
        home = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    old_umask = None
    try:
        if request.working_dir:
            _chdir(request.working_dir)
        if request.umask is not None:
            old_umask = os.umask(request.umask)
        with _inherited(request.pass_fds):
            return os.posix_spawn(
                path,
                list(request.argv),
                dict(request.env),
                file_actions=actions,
                setsid=True,
                setsigdef=SIGNALS_TO_DEFAULT,
                setsigmask=(),
            )
    except OSError as exc:
        raise SpawnError(f'Bad command - cannot execute "{path}": {exc.strerror}') from None
    except ValueError as exc:  # NUL byte in an argument, "=" in an env name
        raise SpawnError(f"Bad command - {exc}") from None
    finally:
        if old_umask is not None:
            os.umask(old_umask)
        if home is not None:
            os.fchdir(home)
            os.close(home)


def _chdir(working_dir: str) -> None:
    try:
        os.chdir(working_dir)
    except OSError as exc:
        raise SpawnError(f'Bad working_dir "{working_dir}": {exc.strerror}') from None


def _fork_exec(request: SpawnRequest, path: str, actions: list[FileAction]) -> int:
    """The slow path for uid/gid/rlimits: fork, apply, exec; errors come back on a pipe."""
    if request.working_dir and not os.path.isdir(request.working_dir):
        raise SpawnError(f'Bad working_dir "{request.working_dir}": No such directory')
    env = dict(request.env)
    argv = list(request.argv)
    status_r, status_w = os.pipe()  # both close-on-exec: EOF on status_r means exec worked
    try:
        pid = os.fork()
        if pid == 0:  # --- child: from here on, only setup, exec or _exit ---
            try:
                os.close(status_r)
                _child_setup(request, actions)
                os.execve(path, argv, env)
            except BaseException as exc:
                with contextlib.suppress(BaseException):
                    os.write(status_w, _child_error(exc, path).encode())
            finally:
                os._exit(EXEC_FAILED)
        # --- parent ---
        os.close(status_w)
        status_w = -1
        message = _read_all(status_r)
    finally:
        if status_w >= 0:
            os.close(status_w)
        os.close(status_r)
    if message:
        os.waitpid(pid, 0)  # it has exited with EXEC_FAILED; reap it here, it never ran
        raise SpawnError(message.decode(errors="replace"))
    return pid


def _child_setup(request: SpawnRequest, actions: list[FileAction]) -> None:
    """Runs in the forked child only."""
    for signum in SIGNALS_TO_DEFAULT:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    os.setsid()
    for _action, source, target in actions:
        os.dup2(source, target)
    for fd in request.pass_fds:
        os.set_inheritable(fd, True)
    if request.working_dir:
        os.chdir(request.working_dir)
    if request.umask is not None:
        os.umask(request.umask)
    for number, limit in request.rlimits.items():
        resource.setrlimit(number, (limit, limit))
    if request.uid is not None and request.user_name:
        os.initgroups(request.user_name, request.gid if request.gid is not None else request.uid)
    elif request.uid is not None or request.gid is not None:
        # no passwd entry (or only a group): never keep the kernel's supplementary groups
        os.setgroups([request.gid] if request.gid is not None else [])
    if request.gid is not None:
        os.setgid(request.gid)
    if request.uid is not None:
        os.setuid(request.uid)


def _child_error(exc: BaseException, path: str) -> str:
    if isinstance(exc, OSError):
        if exc.filename is not None and exc.filename != path:
            return f'Bad working_dir "{exc.filename}": {exc.strerror}'
        if exc.filename == path:
            return f'Bad command - cannot execute "{path}": {exc.strerror}'
        return f"Cannot set up the child: {exc.strerror}"
    return f"Cannot set up the child: {exc}"


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except InterruptedError:
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def seal_inherited_fds() -> list[int]:
    """Mark every inheritable fd above 2 close-on-exec; return those fds.

    ``posix_spawn`` passes on every fd without close-on-exec. Python opens everything
    close-on-exec, but a daemon (the kernel, circusd) may have *inherited* open fds from
    whoever started it (a shell, a CI harness, a service manager); without this every worker
    would get them too.
    """
    sealed = []
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        if fd <= 2:
            continue
        with contextlib.suppress(OSError):  # the directory's own fd is already closed
            if os.get_inheritable(fd):
                os.set_inheritable(fd, False)
                sealed.append(fd)
    return sealed
