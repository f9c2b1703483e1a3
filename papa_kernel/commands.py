"""Command handlers: one function per command, registered by canonical name.

A handler gets the session (the client connection) and the arguments after the command words.
It returns the reply body (the connection adds the prompt), or None when it wrote its own
reply (``quit``, the watch commands). Errors are raised as :class:`KernelError` and become
``Error: <message>``. The full wire specification is docs/kernel-protocol.md.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from papa_kernel import __version__, helptext
from papa_kernel.errors import CommandError, NotFoundError
from papa_kernel.protocol import (
    MAX_DIGITS,
    SECOND_WORDS,
    TOP_WORDS,
    parse_bool,
    resolve_command,
    select_names,
    show_value,
    split_options,
)
from papa_kernel.sockets import parse_socket_options

if TYPE_CHECKING:
    from papa_kernel.kernel import Kernel

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 2  # papa 1.0.6 is protocol 1; extensions are listed in docs/kernel-protocol.md


class Session(Protocol):
    """What handlers need from a connection."""

    kernel: Kernel

    def begin_process_watch(self, first: bytes, patterns: list[str], follow: bool,
                            dropped: bool, entries: list) -> None: ...  # fmt: skip

    def begin_socket_watch(self, names: list[str]) -> None: ...

    def close_after(self, final: bytes) -> None: ...

    def request_exit(self) -> None: ...

    def reply_with_fds(self, body: str, fds: list[int]) -> None: ...


Handler = Callable[[Session, list[str]], "str | None"]
COMMANDS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    """Register a handler under its canonical command name."""

    def register(handler: Handler) -> Handler:
        COMMANDS[name] = handler
        return handler

    return register


def execute(session: Session, args: list[str]) -> str | None:
    """Resolve the command words of ``args`` and run the handler."""
    name, rest = resolve_command(args)
    return COMMANDS[name](session, rest)


# -- general -----------------------------------------------------------------------------
@command("help")
def help_command(session: Session, args: list[str]) -> str:
    """``help [COMMAND]``."""
    if not args:
        return helptext.OVERVIEW
    top = next((word for word in TOP_WORDS if word.startswith(args[0].lower())), None)
    seconds = SECOND_WORDS.get(top or "")
    if top is not None and seconds and len(args) == 1:
        return (
            f'"{top}" is followed by one of: {", ".join(seconds)} (e.g. "help {top} {seconds[0]}")'
        )
    try:
        name, _rest = resolve_command(args[:2] if seconds else args[:1])
    except CommandError:
        name = ""
    text = helptext.TOPICS.get(name)
    if text is None:
        raise CommandError(f'No help for "{" ".join(args)}"; type "help" for the list')
    return text


@command("version")
def version_command(session: Session, args: list[str]) -> str:
    """``version`` -> ``papa-kernel VERSION protocol N``."""
    return f"papa-kernel {__version__} protocol {PROTOCOL_VERSION}"


@command("quit")
def quit_command(session: Session, args: list[str]) -> None:
    """``quit``: reply ``ok`` and close the connection."""
    session.close_after(b"ok\n")


@command("exit-if-idle")
def exit_if_idle_command(session: Session, args: list[str]) -> str:
    """``exit-if-idle``: stop the kernel if it holds nothing."""
    if not session.kernel.idle():
        return "not idle"
    session.request_exit()
    return "Exiting papa!"


# -- values ------------------------------------------------------------------------------
@command("set")
def set_command(session: Session, args: list[str]) -> str:
    """``set NAME [VALUE...]``; no value deletes."""
    if not args:
        raise CommandError("Value requires a name")
    name, value = args[0], " ".join(args[1:])
    if value:
        session.kernel.values[name] = value
    else:
        session.kernel.values.pop(name, None)
    return ""


@command("get")
def get_command(session: Session, args: list[str]) -> str:
    """``get NAME``: the value or an empty reply."""
    if not args:
        raise CommandError("Value requires a name")
    return session.kernel.values.get(args[0], "")


@command("list values")
def list_values_command(session: Session, args: list[str]) -> str:
    """``list values [PATTERN...]``."""
    values = session.kernel.values
    return "\n".join(f"{name} {values[name]}" for name in select_names(args, values, strict=False))


@command("remove values")
def remove_values_command(session: Session, args: list[str]) -> str:
    """``remove values PATTERN...`` (a name is required)."""
    if not args or "*" in args:
        raise CommandError("You cannot remove all values at once; name them")
    values = session.kernel.values
    for name in select_names(args, values, strict=False):
        del values[name]
    return ""


# -- sockets -----------------------------------------------------------------------------
@command("make socket")
def make_socket_command(session: Session, args: list[str]) -> str:
    """``make socket NAME [key=value...]``."""
    if not args:
        raise CommandError("Socket requires a name")
    name = args[0]
    _check_name(name)
    options, rest = split_options(args[1:])
    if rest:
        raise CommandError(f'Unexpected argument "{rest[0]}" (options are key=value)')
    managed = session.kernel.sockets.make(name, parse_socket_options(options))
    log.info("socket %s", managed.describe())
    return managed.describe()


@command("list sockets")
def list_sockets_command(session: Session, args: list[str]) -> str:
    """``list sockets [PATTERN...]``."""
    registry = session.kernel.sockets
    names = select_names(args, registry.by_name, strict=False)
    return "\n".join(registry.by_name[name].describe() for name in names)


@command("remove sockets")
def remove_sockets_command(session: Session, args: list[str]) -> str:
    """``remove sockets [PATTERN...]`` (no pattern: all)."""
    kernel = session.kernel
    for name in select_names(args, kernel.sockets.by_name, strict=True):
        kernel.remove_socket(name)
    return ""


@command("watch sockets")
def watch_sockets_command(session: Session, args: list[str]) -> None:
    """``watch sockets [PATTERN...]``: one ``readable:`` record per socket."""
    registry = session.kernel.sockets
    names = select_names(args, registry.by_name, strict=True)
    if not names:
        raise CommandError("Nothing to watch")
    for name in names:
        if registry.by_name[name].options.reuseport:
            raise CommandError(f"Socket {name} uses reuseport; its listeners are the processes'")
    session.begin_socket_watch(names)


@command("pass sockets")
def pass_sockets_command(session: Session, args: list[str]) -> None:
    """``pass sockets NAME...``: the sockets' list lines, with a duplicate of each socket
    attached in the same order (SCM_RIGHTS; unix connections only)."""
    registry = session.kernel.sockets
    names = select_names(args, registry.by_name, strict=True)
    if not names:
        raise CommandError("Nothing to pass")
    body = "\n".join(registry.by_name[name].describe() for name in names)
    session.reply_with_fds(body, [registry.by_name[name].sock.fileno() for name in names])


def _check_name(name: str) -> None:
    bad = [char for char in (":", "*") if char in name]
    if bad or " " in name:
        raise CommandError(f'Name "{name}" must not contain spaces, ":" or "*"')


# -- signals -----------------------------------------------------------------------------
@command("signal")
def signal_command(session: Session, args: list[str]) -> str:
    """``signal [group=1] SIGNAL PATTERN...``."""
    options, rest = split_options(args)
    unknown = set(options) - {"group"}
    if unknown:
        raise CommandError(f'Unknown signal option "{sorted(unknown)[0]}"')
    group = parse_bool("group", options["group"]) if "group" in options else False
    if len(rest) < 2:
        raise CommandError("signal needs a signal and at least one process name or pattern")
    signum = parse_signal(rest[0])
    kernel = session.kernel
    lines = []
    for name in select_names(rest[1:], kernel.processes, strict=True):
        entry = kernel.processes[name]
        if kernel.send_signal(entry, signum, group):
            lines.append(f"{name} pid={entry.pid}")
    return "\n".join(lines)


def parse_signal(text: str) -> int:
    """``TERM``, ``SIGTERM``, ``term`` or ``15`` -> 15."""
    if text.isascii() and text.isdigit():
        number = int(text) if len(text) <= MAX_DIGITS else -1
        if number not in signal.valid_signals():
            raise CommandError(f'Unknown signal number "{show_value(text)}"')
        return number
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    member = getattr(signal.Signals, name, None) if name.isidentifier() else None
    if member is None:
        raise NotFoundError(f'Unknown signal "{show_value(text)}"')
    return int(member)


# The process commands live in their own module; importing it registers them.
from papa_kernel import process_commands as _process_commands  # noqa: E402, F401
