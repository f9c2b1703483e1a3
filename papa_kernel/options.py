"""papa-kernel's command-line options: one table (:data:`OPTIONS`), read without :mod:`argparse`.

A kernel lives for months; argparse (with gettext) would be 0.4 MB of its resident memory to
read a dozen words once, at start-up. :func:`parse` reads the command lines that start a
kernel (circusd's, a unit file's, a test's: options as separate words, a COMMAND after ``--``)
from the table. Anything else — ``--help``, ``--version``, an error, an abbreviated option,
``--option=value``, a bad value — is handed to the argparse parser that :func:`build_parser`
makes from the same table, imported only then: the help text, the usage line and every error
message are argparse's, word for word, and a command line means what argparse says it means.
"""

from __future__ import annotations

import sys

from papa_kernel import __version__
from papa_kernel.records import frozen_record
from papa_kernel.typenames import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
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


@frozen_record
class Option:
    """One option: ``kind`` is ``value`` (takes the next word), ``flag`` (True if given) or
    ``append`` (a value, repeatable: a list)."""

    flag: str
    kind: str
    help: str
    metavar: str | None = None
    default: object = None
    choices: tuple[str, ...] | None = None
    convert: Callable[[str], object] | None = None

    @property
    def dest(self) -> str:
        """The attribute of :class:`Options` (``--pid-file``: ``pid_file``)."""
        return self.flag[2:].replace("-", "_")


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
BY_FLAG = {option.flag: option for option in OPTIONS}


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
    values: dict[str, object] = {
        option.dest: False if option.kind == "flag" else option.default for option in OPTIONS
    }
    values["socket_fd"], values["command"] = [], []
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--":
            values["command"] = words[index + 1 :]
            break
        option = BY_FLAG.get(word)
        if option is None:
            return None  # --help, --version, abbreviations, a COMMAND without --, errors
        if option.kind == "flag":
            values[option.dest] = True
            index += 1
            continue
        if index + 1 == len(words) or (
            words[index + 1].startswith("-") and words[index + 1] != "-"
        ):
            return None  # a missing value
        text = words[index + 1]
        if option.choices is not None and text not in option.choices:
            return None
        try:
            value = option.convert(text) if option.convert else text
        except ValueError:
            return None
        if option.kind == "append":
            values[option.dest] = [*values[option.dest], value]  # type: ignore[misc]
        else:
            values[option.dest] = value
        index += 2
    return Options(**values)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of :data:`OPTIONS`: ``--help``, errors, the docs' reference."""
    import argparse  # only for help, errors and the docs: never in a running kernel

    from papa_kernel import helpwidth

    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION,
        formatter_class=helpwidth.HelpFormatter,  # no shutil import at each start
    )  # fmt: skip
    for option in OPTIONS:
        settings: dict[str, object] = {"help": option.help}
        if option.metavar is not None:
            settings["metavar"] = option.metavar
        if option.kind == "flag":
            settings["action"] = "store_true"
        elif option.kind == "append":
            settings.update(action="append", default=[])
        else:
            settings["default"] = option.default
        if option.choices is not None:
            settings["choices"] = list(option.choices)
        if option.convert is not None:
            settings["type"] = _argparse_type(option.convert)
        parser.add_argument(option.flag, **settings)  # type: ignore[arg-type]
    parser.add_argument("command", nargs="*", metavar="COMMAND", help=COMMAND_HELP)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def _argparse_type(convert: Callable[[str], object]) -> Callable[[str], object]:
    """``convert`` for argparse: its ValueError's message becomes the error argparse prints."""
    import argparse

    def typed(text: str) -> object:
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return typed


def fail(message: str) -> NoReturn:
    """Exit as argparse does for a bad command line: the usage, ``papa-kernel: error:
    MESSAGE``, status 2."""
    build_parser().error(message)
