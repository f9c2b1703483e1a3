"""Command handlers: one function per command, declared with its words and help.

A handler gets the session (the client connection) and the arguments after the command words.
It returns the reply body (the connection adds the prompt), or None when it wrote its own
reply (``quit``, the watch commands). Errors are raised as :class:`KernelError` and become
``Error: <message>``. Each ``@command`` declaration is the single source of the command's
words and help (see :mod:`papa_kernel.command_table`); the process commands are in
:mod:`papa_kernel.process_commands`. The full wire specification is docs/kernel-protocol.md.
"""

from __future__ import annotations

from papa_kernel import __version__, klog
from papa_kernel.command_table import command, help_text
from papa_kernel.errors import CommandError
from papa_kernel.kernel import Kernel
from papa_kernel.processes import ProcessEntry
from papa_kernel.protocol import (
    check_name,
    parse_bool,
    parse_signal,
    select_names,
    split_options,
)
from papa_kernel.sockets import parse_socket_options
from papa_kernel.typenames import Protocol

log = klog.get(__name__)

PROTOCOL_VERSION = 5  # papa 1.0.6 is protocol 1; extensions are listed in docs/kernel-protocol.md
# 3: make socket systemd=, make process stop_signal= (circusd sends it only to protocol >= 3)
# 4: make process arg.N= (circusd sends it only to protocol >= 4)


class Session(Protocol):
    """What handlers need from a connection."""

    kernel: Kernel

    def begin_process_watch(self, first: bytes, patterns: list[str], follow: bool,
                            dropped: bool, entries: list[ProcessEntry]) -> None: ...  # fmt: skip

    def begin_socket_watch(self, names: list[str]) -> None: ...

    def close_after(self, final: bytes) -> None: ...

    def request_exit(self) -> None: ...

    def reply_with_fds(self, body: str, fds: list[int]) -> None: ...


# -- values ------------------------------------------------------------------------------
@command(
    "set",
    usage="set NAME [VALUE...]",
    details="  Store a value (words joined by one space); no value deletes.",
    brief=True,
)
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


@command("get", usage="get NAME", details="  The stored value (empty if unset).", brief=True)
def get_command(session: Session, args: list[str]) -> str:
    """``get NAME``: the value or an empty reply."""
    if not args:
        raise CommandError("Value requires a name")
    return session.kernel.values.get(args[0], "")


@command(
    "list values",
    usage="list values [NAME|PREFIX*...]",
    details="  One line per value: NAME VALUE",
    brief=True,
)
def list_values_command(session: Session, args: list[str]) -> str:
    """``list values [PATTERN...]``."""
    values = session.kernel.values
    return "\n".join(f"{name} {values[name]}" for name in select_names(args, values, strict=False))


@command(
    "remove values",
    usage="remove values NAME|PREFIX*...",
    details="  Delete values (name them; * is refused).",
    brief=True,
)
def remove_values_command(session: Session, args: list[str]) -> str:
    """``remove values PATTERN...`` (a name is required)."""
    if not args or "*" in args:
        raise CommandError("You cannot remove all values at once; name them")
    values = session.kernel.values
    for name in select_names(args, values, strict=False):
        del values[name]
    return ""


# -- general -----------------------------------------------------------------------------
@command(
    "help",
    usage="help [COMMAND]",
    details="  This text, or the details of one command.",
    brief=True,
)
def help_command(session: Session, args: list[str]) -> str:
    """``help [COMMAND]``."""
    return help_text(args)


@command("version", usage="version", details="  papa-kernel VERSION protocol N", brief=True)
def version_command(session: Session, args: list[str]) -> str:
    """``version`` -> ``papa-kernel VERSION protocol N``."""
    return f"papa-kernel {__version__} protocol {PROTOCOL_VERSION}"


@command(
    "quit",
    usage="quit",
    details="  Close this connection (hosted processes and sockets stay).",
    brief=True,
)
def quit_command(session: Session, args: list[str]) -> None:
    """``quit``: reply ``ok`` and close the connection."""
    session.close_after(b"ok\n")


@command(
    "exit-if-idle",
    usage="exit-if-idle",
    details="  Stop the kernel if it holds no process, socket or value (else: not idle).",
    abbreviable=False,  # too dangerous to type by accident
    brief=True,
)
def exit_if_idle_command(session: Session, args: list[str]) -> str:
    """``exit-if-idle``: stop the kernel if it holds nothing."""
    if not session.kernel.idle():
        return "not idle"
    session.request_exit()
    return "Exiting papa!"


# -- sockets -----------------------------------------------------------------------------
@command(
    "make socket",
    usage="make socket NAME [key=value...]",
    summary="bind a socket and hold it",
    details="""\
  family=unix|inet|inet6   default unix when path= is given, else inet
  type=stream|dgram|seqpacket   default stream (dgram sockets are bound, not listening)
  backlog=N                listen backlog (default 5)
  host=ADDR port=N         inet: default host is loopback, port 0 lets the system choose
  interface=IF             bind to one network interface (SO_BINDTODEVICE)
  reuseport=1              each process that inherits it gets its own SO_REUSEPORT socket
  path=/ABS/PATH umask=N   unix: socket file (umask in decimal, as papa clients send it)
  replace=0                unix: refuse to replace an existing socket file
  systemd=FDNAME           take the socket systemd passed with FileDescriptorName=FDNAME
Repeating an identical make socket returns the existing socket.
Example: make socket web host=127.0.0.1 port=8080 backlog=128""",
)
def make_socket_command(session: Session, args: list[str]) -> str:
    """``make socket NAME [key=value...]``."""
    if not args:
        raise CommandError("Socket requires a name")
    name = args[0]
    check_name(name)
    options, rest = split_options(args[1:])
    if rest:
        raise CommandError(f'Unexpected argument "{rest[0]}" (options are key=value)')
    managed = session.kernel.sockets.make(name, parse_socket_options(options))
    log.info("socket %s", managed.describe())
    return managed.describe()


@command(
    "list sockets",
    usage="list sockets [NAME|PREFIX*...]",
    summary="show held sockets",
    details="  One line per socket: NAME family= type= ... fileno=",
)
def list_sockets_command(session: Session, args: list[str]) -> str:
    """``list sockets [PATTERN...]``."""
    registry = session.kernel.sockets
    names = select_names(args, registry.by_name, strict=False)
    return "\n".join(registry.by_name[name].describe() for name in names)


@command(
    "remove sockets",
    usage="remove sockets [NAME|PREFIX*...]",
    summary="close held sockets (no name: all of them)",
    details=(
        "  Close the kernel's copy (children keep theirs); a unix socket file is removed.\n"
        "  Without a name every socket is removed."
    ),
)
def remove_sockets_command(session: Session, args: list[str]) -> str:
    """``remove sockets [PATTERN...]`` (no pattern: all)."""
    kernel = session.kernel
    for name in select_names(args, kernel.sockets.by_name, strict=True):
        kernel.remove_socket(name)
    return ""


@command(
    "watch sockets",
    usage="watch sockets [NAME|PREFIX*...]",
    summary="report when a socket has a pending connection",
    details=(
        "  Sends readable:NAME:TIME once per socket when a connection or datagram is pending\n"
        '  (nothing is accepted). Acknowledge with a line; "q" stops.'
    ),
)
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


@command(
    "pass sockets",
    usage="pass sockets NAME|PREFIX*...",
    summary="send duplicates of held sockets (unix connections)",
    details=(
        "  The sockets' list lines; a duplicate of each socket is attached to the reply\n"
        "  (SCM_RIGHTS, in line order). Unix connections only. A client that holds them can\n"
        "  start the next kernel with --socket-fd NAME=FD if this one is lost."
    ),
    abbreviable=False,  # too rare to abbreviate: "p" stays free for future commands
)
def pass_sockets_command(session: Session, args: list[str]) -> None:
    """``pass sockets NAME...``: the sockets' list lines, with a duplicate of each socket
    attached in the same order (SCM_RIGHTS; unix connections only)."""
    registry = session.kernel.sockets
    names = select_names(args, registry.by_name, strict=True)
    if not names:
        raise CommandError("Nothing to pass")
    body = "\n".join(registry.by_name[name].describe() for name in names)
    session.reply_with_fds(body, [registry.by_name[name].sock.fileno() for name in names])


# -- signals -----------------------------------------------------------------------------
@command(
    "signal",
    usage="signal [group=1] SIGNAL NAME|PREFIX*...",
    summary="send a signal (TERM, SIGHUP, 9, ...) to processes",
    details=(
        "  SIGNAL: TERM, SIGTERM, term or a number. group=1 signals the process group.\n"
        "  Replies NAME pid=PID for each process signalled; exited ones are skipped."
    ),
)
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
