"""``make process`` options -> a validated :class:`ProcessSpec` ready to spawn.

Everything is checked before anything is started: unknown options, bad sizes, unknown users,
groups and rlimits, missing sockets and malformed ``$(socket.NAME.fileno|port)`` references all
become one ``Error:`` naming the culprit.
"""

from __future__ import annotations

import os
import signal
import socket
from sys import intern

from papa_kernel.errors import CommandError, NotFoundError
from papa_kernel.protocol import (
    is_decimal,
    parse_bool,
    parse_octal,
    parse_signal,
    parse_size,
    require_value,
    show_value,
)
from papa_kernel.records import record, replace
from papa_kernel.sockets import ManagedSocket, SocketRegistry
from papa_kernel.spawn import (
    CAPTURE,
    DEVNULL,
    STDOUT,
    SpawnRequest,
    check_rlimit_allowed,
    resolve_group,
    resolve_rlimit,
    resolve_user,
)

PLAIN_KEYS = frozenset(
    {
        "working_dir", "uid", "gid", "bufsize", "watch", "stdout", "stderr", "shell",
        "sockets", "stdin_socket", "umask", "executable", "stop_signal",
    }
)  # fmt: skip
SHELL = "/bin/sh"
MAX_BUFSIZE = 1024**3  # 1g per stream: the kernel holds every hosted process's output in memory
#: A socket reference is ``$(socket.`` up to the next ``)``; found with ``str.find``, so the
#: kernel does without ``re`` (~2 ms of each kernel start, about 7 % of it)
SOCKET_REF_START = "$(socket."
ARG_PREFIX = "arg."  # ``arg.N=VALUE``: argument N given as an option (protocol 4)


@record
class ProcessSpec:
    """A parsed ``make process``: what to spawn and how to show it."""

    request: SpawnRequest
    capacity: int
    watch: bool
    args_text: str
    identity: str
    shown_options: tuple[str, ...]
    child_sockets: list[socket.socket]  # close after the spawn (a new list per spec)
    stop_signal: int = signal.SIGTERM  # sent by a graceful stop of the whole kernel


def parse_process(
    options: dict[str, str], args: list[str], registry: SocketRegistry, default_bufsize: int
) -> ProcessSpec:
    """Validate options and arguments; resolve sockets. See the module docstring."""
    _check_keys(options)
    args = place_arguments(options, args)
    if not args:
        raise CommandError("Process requires a program to run after the options")
    capacity = default_bufsize  # one int object shared by the entries that keep it
    if "bufsize" in options:
        capacity = parse_size("bufsize", options["bufsize"], MAX_BUFSIZE)
    stdout, stderr = _stream_modes(options, capacity)
    shell = parse_bool("shell", options["shell"]) if "shell" in options else False
    uid, gid, user_name = _user_and_group(options)
    request = SpawnRequest(
        argv=(),
        executable=options.get("executable") or None,
        env=_environment(options),
        working_dir=_working_dir(options),
        umask=parse_octal("umask", options["umask"]) if "umask" in options else None,
        uid=uid,
        gid=gid,
        user_name=user_name,
        rlimits=_rlimits(options),
        stdout=stdout,
        stderr=stderr,
    )
    spec = ProcessSpec(
        request=request,
        capacity=capacity,
        watch=parse_bool("watch", options["watch"]) if "watch" in options else False,
        # kept by the entry for its life: interned, so that the workers of one watcher (same
        # program, arguments and environment) share one copy
        args_text=intern(" ".join(args)),
        identity=process_identity(options, args),
        shown_options=_shown(uid, gid, shell),
        child_sockets=[],
    )
    if "stop_signal" in options:
        spec.stop_signal = parse_signal(options["stop_signal"])
    _add_sockets(spec, options, args, registry, shell)
    return spec


def process_identity(options: dict[str, str], args: list[str]) -> str:
    """What a repeated ``make process`` of the same name must match: its options but
    ``watch=`` and its arguments, as one interned string (the workers of a watcher share one
    copy: a tuple of option pairs would be ~60 bytes per option and worker). No token of a
    line contains a newline and no option key an ``=``, so the string is unambiguous."""
    keys = sorted(key for key in options if key != "watch")
    return intern("\n".join([str(len(keys)), *(f"{key}={options[key]}" for key in keys), *args]))


def _add_sockets(
    spec: ProcessSpec, options: dict[str, str], args: list[str], registry: SocketRegistry,
    shell: bool,
) -> None:  # fmt: skip
    """Substitute socket references, choose the inherited fds (last: it opens sockets)."""
    inherited: dict[str, int] = {}
    try:
        argv = [_substitute(arg, registry, inherited, spec) for arg in args]
        for name in _names(options.get("sockets", "")):
            inherited.setdefault(name, _child_fd(registry, name, spec))
        stdin_fd = None
        if options.get("stdin_socket"):
            stdin_fd = _child_fd(registry, options["stdin_socket"], spec)
    except BaseException:
        close_child_sockets(spec)
        raise
    spec.request = replace(
        spec.request,
        argv=tuple([SHELL, "-c", *argv] if shell else argv),
        pass_fds=tuple(sorted(set(inherited.values()))),
        stdin_fd=stdin_fd,
    )


def place_arguments(options: dict[str, str], args: list[str]) -> list[str]:
    """The whole argv: each ``arg.N=VALUE`` option at index N (0 is the program), the
    positional arguments filling the other places in order. This is how a client sends what
    a space-separated token cannot be: an empty argument, one ending in a backslash, a program
    name containing ``=``, a last argument ending in a space."""
    placed: dict[int, str] = {}
    for key, value in options.items():
        if key.startswith(ARG_PREFIX):
            placed[_arg_index(key)] = value
    if not placed:
        return args
    total = len(args) + len(placed)
    for index in placed:
        if index >= total:
            raise CommandError(
                f'Option "{ARG_PREFIX}{index}" is past the end of the arguments '
                f"({total} in all, numbered from 0)"
            )
    positional = iter(args)
    return [placed[index] if index in placed else next(positional) for index in range(total)]


def _arg_index(key: str) -> int:
    digits = key[len(ARG_PREFIX) :]
    if not is_decimal(digits) or len(digits) > 5 or (len(digits) > 1 and digits[0] == "0"):
        raise CommandError(f'Option "{show_value(key)}" needs an argument number, like arg.1')
    return int(digits)


def _working_dir(options: dict[str, str]) -> str | None:
    working_dir = options.get("working_dir")
    if working_dir is not None and not os.path.isabs(require_value("working_dir", working_dir)):
        raise CommandError(f'working_dir must be an absolute path, not "{working_dir}"')
    return working_dir


def close_child_sockets(spec: ProcessSpec) -> None:
    """Close the per-child socket copies (after the spawn, or on error)."""
    for sock in spec.child_sockets:
        sock.close()
    spec.child_sockets.clear()


def _check_keys(options: dict[str, str]) -> None:
    for key in options:
        if key in PLAIN_KEYS:
            continue
        if key.startswith("env.") and len(key) > 4:
            continue
        if key.startswith("rlimit.") and len(key) > 7:
            continue
        if key.startswith(ARG_PREFIX):
            continue  # checked by place_arguments
        raise CommandError(f'Unknown process option "{key}" (see "help make process")')


def _stream_modes(options: dict[str, str], capacity: int) -> tuple[str, str]:
    stdout = CAPTURE if parse_bool("stdout", options.get("stdout", "1")) else DEVNULL
    err_text = options.get("stderr", "1").lower()
    stderr = (
        STDOUT if err_text == "stdout" else (CAPTURE if parse_bool("stderr", err_text) else DEVNULL)
    )
    if capacity == 0:  # bufsize=0: capture nothing (papa 1.0.6)
        stdout = DEVNULL
        stderr = DEVNULL if stderr != STDOUT else STDOUT
    return stdout, stderr


def _user_and_group(options: dict[str, str]) -> tuple[int | None, int | None, str | None]:
    uid = gid = None
    user_name = None
    if "uid" in options:
        uid, gid, user_name = resolve_user(require_value("uid", options["uid"]))
    if "gid" in options:
        gid = resolve_group(require_value("gid", options["gid"]))
    return uid, gid, user_name


def _shown(uid: int | None, gid: int | None, shell: bool) -> tuple[str, ...]:
    shown = []
    if uid is not None:
        shown.append(f"uid={uid}")
    if gid is not None:
        shown.append(f"gid={gid}")
    if shell:
        shown.append("shell=True")
    return tuple(shown)


def _environment(options: dict[str, str]) -> dict[str, str]:
    env = {}
    for key, value in options.items():
        if key.startswith("env."):
            name = key[4:]
            if "=" in name or "\0" in name:
                raise CommandError(f'Bad environment variable name "{name}"')
            env[name] = value
    return env


def _rlimits(options: dict[str, str]) -> dict[int, int]:
    limits = {}
    for key, value in options.items():
        if key.startswith("rlimit."):
            number, limit = resolve_rlimit(key[7:], require_value(key, value))
            check_rlimit_allowed(key[7:], number, limit)
            limits[number] = limit
    return limits


def _names(text: str) -> list[str]:
    return [name for name in text.split(",") if name]


def _lookup(registry: SocketRegistry, name: str) -> ManagedSocket:
    managed = registry.get(name)
    if managed is None:
        raise NotFoundError(f"Socket {name} not found")
    return managed


def _child_fd(registry: SocketRegistry, name: str, spec: ProcessSpec) -> int:
    """The fd the child gets for socket ``name`` (a fresh copy for reuseport sockets)."""
    managed = _lookup(registry, name)
    sock = managed.copy_for_child()
    if sock is not managed.sock:
        spec.child_sockets.append(sock)
    return sock.fileno()


def _substitute(
    arg: str, registry: SocketRegistry, inherited: dict[str, int], spec: ProcessSpec
) -> str:
    """Replace every ``$(socket.NAME.fileno|port)`` in one argument."""
    pieces: list[str] = []
    done = 0
    while (start := arg.find(SOCKET_REF_START, done)) >= 0:
        end = arg.find(")", start + len(SOCKET_REF_START))
        if end < 0:  # text after the last complete reference stays as it is
            break
        pieces.append(arg[done:start])
        reference = arg[start + len(SOCKET_REF_START) : end]
        pieces.append(_socket_value(arg[start : end + 1], reference, registry, inherited, spec))
        done = end + 1
    if not pieces:
        if SOCKET_REF_START in arg:
            raise CommandError(f'Unterminated "$(socket." reference in "{arg}"')
        return arg
    pieces.append(arg[done:])
    return "".join(pieces)


def _socket_value(
    whole: str,
    reference: str,
    registry: SocketRegistry,
    inherited: dict[str, int],
    spec: ProcessSpec,
) -> str:
    """What ``whole`` (``$(socket.REFERENCE)``) stands for: the socket's fd or port."""
    name, _, field_name = reference.rpartition(".")
    if field_name not in ("fileno", "port") or not name:
        raise CommandError(f'"{whole}" must name a socket and end in ".fileno" or ".port"')
    if field_name == "port":
        _lookup(registry, name)
        inherited.setdefault(name, _child_fd(registry, name, spec))
        return str(registry.by_name[name].port)
    if name not in inherited:
        inherited[name] = _child_fd(registry, name, spec)
    return str(inherited[name])
