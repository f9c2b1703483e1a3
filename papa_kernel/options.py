"""papa-kernel's command-line options: one table (:data:`OPTIONS`), read without :mod:`argparse`.

A kernel lives for months; argparse (with gettext) would be 0.4 MB of its resident memory to
read a dozen words once, at start-up. :func:`parse` reads the command lines that start a
kernel (circusd's, a unit file's, a test's: options as separate words, a COMMAND after ``--``)
from the table. Anything else — ``--help``, ``--version``, an error, an abbreviated option,
``--option=value``, a bad value — is handed to the argparse parser that :func:`build_parser`
makes from the same table, imported only then: the help text, the usage line and every error
message are argparse's, word for word, and a command line means what argparse says it means.

The reading and the parser's making are :mod:`papa_kernel.cmdline`'s (circusd reads its own
command line with them, from its own table).
"""

from __future__ import annotations

import sys

from papa_kernel import __version__
from papa_kernel.cmdline import Option, add_options, parse_plain
from papa_kernel.typenames import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import NoReturn

PROG = "papa-kernel"
DESCRIPTION = "Hold sockets, processes and their output for Circus (papa protocol)."
MAX_GRACE = 24 * 3600.0  # a grace period of a day is already a mistake
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
#: --init's --graceful-stop: below `docker stop`'s 10 s, after which the runtime SIGKILLs everything
DEFAULT_GRACE = 8.0


def seconds(text: str) -> float:
    """A number of seconds, 0 to a day; ValueError names what is wrong."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f'not a number of seconds: "{text}"') from None
    if not 0 <= value <= MAX_GRACE:  # also refuses nan
        raise ValueError(f"must be between 0 and {MAX_GRACE:.0f}, not {text}")
    return value


OPTIONS = (
    Option("--socket", "value", metavar="PATH",
           help="unix socket to listen on (mode 0600); default: papa.sock in the private "
           "runtime dir ($XDG_RUNTIME_DIR/circus, /run/circus as root, else /tmp/circus-$UID)"),
    Option("--tcp", "value", metavar="HOST:PORT",
           help="also listen on this loopback TCP address (port 0: any free port)"),
    Option("--daemon", "flag", help="detach and run in the background"),
    Option("--pid-file", "value", metavar="PATH",
           help="write the pid here (default with --daemon: SOCKET.pid)"),
    Option("--log-level", "value", default="info", choices=LOG_LEVELS,
           help="default: %(default)s"),
    Option("--log-file", "value", metavar="PATH",
           help="log here instead of stderr ('-' = stderr)"),
    Option("--force", "flag",
           help="let SIGTERM/SIGINT stop the kernel even while it hosts running processes"),
    Option("--graceful-stop", "value", metavar="SECONDS", convert=seconds,
           help="SIGTERM/SIGINT stop every hosted process (SIGTERM to each process group, "
           "SIGKILL after SECONDS), then the kernel exits: 0 if all ended in time, 2 if some "
           "were killed (papa-kernel.service uses it)"),
    Option("--reaper", "value", default="pidfd", choices=("pidfd", "sigchld"),
           help="how child exits are noticed (sigchld: the fallback, for testing)"),
    Option("--socket-fd", "append", metavar="NAME=FD",
           help="hold the inherited socket FD as NAME (a client that kept the sockets of a "
           "lost kernel hands them over this way; the first matching 'make socket NAME' "
           "claims it)"),
    Option("--init", "flag",
           help="run as PID 1 of a container: reap every orphan, SIGTERM/SIGINT stop "
           f"everything gracefully (--graceful-stop, default {DEFAULT_GRACE:.0f} s), SIGHUP "
           "goes to COMMAND; COMMAND (after --, e.g. circusd) is started once the kernel "
           "listens, and when it exits everything is stopped and the kernel exits with its "
           "status"),
)  # fmt: skip
COMMAND_HELP = "with --init: the main command"


class Options:
    """The parsed command line (the attributes of argparse's namespace)."""

    socket: str | None
    tcp: str | None
    daemon: bool
    pid_file: str | None
    log_level: str
    log_file: str | None
    force: bool
    graceful_stop: float | None
    reaper: str
    socket_fd: list[str]
    init: bool
    command: list[str]

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Options) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"Options({vars(self)})"


def parse(argv: Sequence[str] | None = None) -> Options:
    """The options of ``argv`` (default ``sys.argv[1:]``); exits as argparse does (status 2
    with the usage and the error, 0 after ``--help`` or ``--version``)."""
    words = list(sys.argv[1:] if argv is None else argv)
    parsed = _parse_plain(words)
    if parsed is None:
        parsed = Options(**vars(build_parser().parse_args(words)))
    return parsed


def _parse_plain(words: list[str]) -> Options | None:
    """The options, if ``words`` are plain (see the module docstring); None: ask argparse."""
    values = parse_plain(words, OPTIONS, rest="command")
    return None if values is None else Options(**values)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of :data:`OPTIONS`: ``--help``, errors, the docs' reference."""
    import argparse  # only for help, errors and the docs: never in a running kernel

    from papa_kernel import helpwidth

    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION,
        formatter_class=helpwidth.HelpFormatter,  # no shutil import at each start
    )  # fmt: skip
    add_options(parser, OPTIONS)
    parser.add_argument("command", nargs="*", metavar="COMMAND", help=COMMAND_HELP)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def fail(message: str) -> NoReturn:
    """Exit as argparse does for a bad command line: the usage, ``papa-kernel: error:
    MESSAGE``, status 2."""
    build_parser().error(message)
