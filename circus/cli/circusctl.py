"""``circusctl``: run one control command, or an interactive shell, against circusd.

Same syntax as the original circusctl (``circusctl [options] command [args]``). Exit codes:

* 0: the command succeeded;
* 1: the call failed (timeout, circusd not running, bad CURVE keys);
* 2: usage error (unknown command or option, wrong number of arguments, bad value);
* 3: circusd answered with an error (also with ``--json``: the original exited 0 there).

Endpoint: ``--endpoint``, else ``$CIRCUSCTL_ENDPOINT``, else ``ipc://<runtime dir>/circus.sock``
(the configuration's default). ``listen`` uses ``--endpoint`` as the pub/sub endpoint; without it
circusctl asks circusd for its ``pubsub_endpoint``.

Fleet mode (:mod:`circus.cli.fleet`): several ``--endpoint``, or ``--hosts FILE``, run the
command on every host concurrently, one output block per host. Its exit code is the worst of the
hosts': 1 if any host gave no usable reply, else 3 if any answered with an error, else 0.
``--serial`` runs it on one host at a time and stops at the first that fails (a rolling
restart). Third-party commands are imported from the first host that has them. The
interactive shell and ``listen`` stay single-host.

``--discover`` (:mod:`circus.cli.discover`) lists the circusds that answer multicast discovery
instead of running a command.
"""

from __future__ import annotations

import argparse
import cmd
import json
import os
import shlex
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from circus import __version__
from circus.cli import command_modules, discover
from circus.control.commands import Command, Commands, get_commands
from circus.control.defaults import DEFAULT_TIMEOUT, default_endpoint, default_pubsub_endpoint
from circus.errors import ArgumentError, CallError, CircusError, ConfigError
from circus.util.endpoints import DEFAULT_DISCOVERY_WAIT, DEFAULT_MULTICAST
from circus.util.fast_exit import ends_process
from papa_kernel.helpwidth import HelpFormatter
from papa_kernel.pipes import quiet_on_broken_pipe

if TYPE_CHECKING:
    from circus.client import CircusClient  # ZeroMQ: imported for a call only (not --help)
    from circus.client.fleet import Host, HostResult  # asyncio: imported for a fleet run only

EXIT_OK = 0
EXIT_CALL_ERROR = 1  # no usable reply: timeout, connection problem
EXIT_USAGE = 2  # the command line itself is wrong
EXIT_ERROR_REPLY = 3  # circusd replied with status "error"
#: A fleet run exits with its worst host's code, in this order (a host that could not be called
#: at all outranks one that answered with an error).
EXIT_SEVERITY = (EXIT_OK, EXIT_ERROR_REPLY, EXIT_CALL_ERROR)

USAGE = "circusctl [options] command [args]"
VERSION = f"circusctl {__version__}"
ENDPOINT_ENV = "CIRCUSCTL_ENDPOINT"
SHELL_CACHE_SECONDS = 5.0  # how long the shell reuses the watcher list for completion
TIMEOUT_HINT = """
circusd was reached but took too long to perform the operation: if you are
not expecting a result to come back soon, increase your timeout option value
(particularly with waiting switches).
"""

#: The longest --timeout (seconds): a day; ZeroMQ's own limit is an int of milliseconds.
MAX_TIMEOUT = 86400.0


def _timeout(text: str) -> float:
    """``--timeout``: seconds, more than 0 and at most :data:`MAX_TIMEOUT` (nan, inf, 0 and
    negative values made misleading messages or tracebacks)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {MAX_TIMEOUT:g}, not {text}"
        )
    return value


GLOBAL_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "--endpoint",
        {
            "action": "append",
            "help": "connection endpoint (default: $CIRCUSCTL_ENDPOINT, "
            "else the runtime dir's circus.sock); repeat it to run the command on each circusd",
        },
    ),
    (
        "--hosts",
        {"help": "INI file of circusds (name, endpoint, CURVE keys, ssh) to run the command on"},
    ),
    (
        "--timeout",
        {
            "type": _timeout,
            "help": f"connection timeout in seconds (default {DEFAULT_TIMEOUT:g})",
        },
    ),
    (
        "--discover",
        {
            "action": "store_true",
            "help": "list the circusds that answer multicast discovery within --timeout "
            f"(default {DEFAULT_DISCOVERY_WAIT:g} s here) and exit",
        },
    ),
    (
        "--discover-interface",
        {
            "action": "append",
            "metavar": "NAME",
            "help": "with --discover: probe on this network interface (repeat it; default: "
            "every interface that is up and can multicast)",
        },
    ),
    (
        "--discover-format",
        {
            "choices": discover.FORMATS,
            "metavar": "FORMAT",
            "help": "with --discover: list (default), hosts (a --hosts file) or endpoints "
            "(--endpoint words)",
        },
    ),
    (
        "--multicast",
        {"metavar": "GROUP", "help": f"with --discover: the group (default {DEFAULT_MULTICAST})"},
    ),
    (
        "--serial",
        {
            "action": "store_true",
            "help": "several circusds: one at a time, in order, stopping at the first that "
            "fails (a rolling restart: --serial restart --waiting)",
        },
    ),
    ("--json", {"action": "store_true", "help": "output to JSON"}),
    ("--prettify", {"action": "store_true", "help": "prettify output"}),
    ("--curve-secret-key", {"help": "CURVE: this client's certificate file (with secret key)"}),
    ("--curve-server-key", {"help": "CURVE: circusd's public certificate file"}),
    (
        "--ssh",
        {
            "help": "SSH server in the format user@host[:port]: reach circusd through an ssh "
            "tunnel (--endpoint as that host sees it; default: circusd's default there)"
        },
    ),
    (
        "--ssh_keyfile",
        {"help": "path to the keyfile to authorise the user (default: ssh's own keys, agent)"},
    ),
    (
        "--help",
        {"action": "store_true", "help": "show help and exit (--help COMMAND: the command's help)"},
    ),
    ("--version", {"action": "store_true", "help": "display version and exit"}),
)


class UsageError(Exception):
    """Bad command line; ``str()`` is the message, exit code 2."""


class _Parser(argparse.ArgumentParser):
    #: one parser per command (set by build_parser)
    command_parsers: Mapping[str, argparse.ArgumentParser]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)  # no shutil (bz2, lzma) at each run
        super().__init__(**kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser(commands: Mapping[str, Command]) -> _Parser:
    """The global parser, with one parser per command in ``parser.command_parsers``.

    :func:`parse` splits the command line at the command name: global options before it,
    the command's flags and arguments (in any order, global options too) after it."""
    parser = _Parser(prog="circusctl", usage=USAGE, add_help=False)
    for flag, kwargs in GLOBAL_OPTIONS:
        parser.add_argument(flag, **kwargs)
    parser.set_defaults(command=None)
    parser.command_parsers = _CommandParsers(commands)
    return parser


class _CommandParsers(Mapping[str, argparse.ArgumentParser]):
    """The commands' parsers, each built when first asked for: a run parses one command, and
    building all of them (27 built in) cost ~12 ms of CPU at every start."""

    def __init__(self, commands: Mapping[str, Command]) -> None:
        self._commands = commands
        self._built: dict[str, argparse.ArgumentParser] = {}

    def __getitem__(self, name: str) -> argparse.ArgumentParser:
        parser = self._built.get(name)
        if parser is None:
            parser = self._built[name] = _command_parser(name, self._commands[name])
        return parser

    def __iter__(self) -> Iterator[str]:
        return iter(self._commands)

    def __len__(self) -> int:
        return len(self._commands)


def _command_parser(name: str, command: Command) -> _Parser:
    sub = _Parser(
        prog=f"circusctl {name}", add_help=False, usage=f"circusctl {name} {command.usage}".rstrip()
    )
    for flag, kwargs in GLOBAL_OPTIONS:  # so `circusctl status --json` works too
        sub.add_argument(flag, **dict(kwargs, default=argparse.SUPPRESS))
    for option in command.flags:
        names = [f"--{option.name}"]
        if "_" in option.name:
            names.append(f"--{option.name.replace('_', '-')}")
        dest = f"flag_{option.name}"
        if option.takes_value:
            sub.add_argument(
                *names, dest=dest, default=option.default, choices=option.choices, help=option.help
            )
        else:
            sub.add_argument(*names, dest=dest, action="store_true", help=option.help)
    sub.add_argument("args", nargs="*")
    return sub


_VALUE_OPTIONS = frozenset(
    flag for flag, kwargs in GLOBAL_OPTIONS if kwargs.get("action") != "store_true"
)


def _first_word(argv: Sequence[str]) -> int | None:
    """Where the first word that is not a global option (or its value) is in ``argv``."""
    skip = False
    for index, word in enumerate(argv):
        if skip:
            skip = False
        elif word == "--":
            return None
        elif word.startswith("--"):
            skip = word in _VALUE_OPTIONS
        else:
            return index
    return None


def _command_index(argv: Sequence[str], commands: Mapping[str, Any]) -> int | None:
    """Where the command name is in ``argv`` (skipping global options and their values)."""
    index = _first_word(argv)
    return index if index is not None and argv[index] in commands else None


def parse(parser: _Parser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse a circusctl command line (raises UsageError)."""
    argv = list(argv)
    commands = parser.command_parsers
    index = _command_index(argv, commands)
    if index is None:
        word = _first_word(argv)
        if word is not None:  # not a command (argparse would call it an unrecognized argument)
            raise UsageError(_unknown_command(argv[word], commands))
        return parser.parse_args(argv)
    args = parser.parse_args(argv[:index])
    command = commands[argv[index]]
    try:
        # intermixed: `signal web --recursive hup` (a flag between positionals) works
        parsed = command.parse_intermixed_args(argv[index + 1 :])
    except UsageError as exc:
        raise UsageError(_with_command_line_hint(str(exc), command)) from None
    for key, value in vars(parsed).items():
        if key == "endpoint":  # --endpoint before and after the command: all of them
            value = (args.endpoint or []) + value
        setattr(args, key, value)
    args.command = argv[index]
    return args


def _unknown_command(word: str, commands: Mapping[str, Any]) -> str:
    from circus.util.suggest import close_matches

    guesses = close_matches(word, commands, 2)
    if guesses:
        return f"unknown command {word!r} (did you mean {' or '.join(map(repr, guesses))}?)"
    return f"unknown command {word!r}; circusctl --help lists the commands"


def _with_command_line_hint(message: str, command: argparse.ArgumentParser) -> str:
    """``add web python -m x``: argparse takes ``-m`` for an option of add; say to use ``--``."""
    usage = command.usage or ""
    if "<cmd...>" not in usage or not message.startswith("unrecognized arguments"):
        return message
    usage = usage.replace("<cmd...>", "-- <cmd...>")
    return f"{message} (put -- before the command line when it has options of its own: {usage})"


def general_help(commands: Mapping[str, Command]) -> str:
    width = max(len(name) for name in commands)
    lines = [f"usage: {USAGE}", "", "Controls a Circus daemon", "", "Commands:"]
    lines += [f"  {name:<{width}}  {command.short()}" for name, command in commands.items()]
    lines += ["", "options:"]
    options = [
        (
            flag
            + (
                ""
                if kwargs.get("action") == "store_true"
                else f" {kwargs.get('metavar', flag[2:].upper())}"
            ),
            kwargs,
        )
        for flag, kwargs in GLOBAL_OPTIONS
    ]
    column = max(len(usage) for usage, _ in options) + 2  # the longest option still gets a gap
    lines += [f"  {usage:<{column}}{kwargs['help']}" for usage, kwargs in options]
    return "\n".join(lines)


class Session:
    """Global settings of one circusctl run (or shell), and the client it reuses."""

    def __init__(
        self, args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
    ):
        endpoints = getattr(args, "endpoint", None) or []
        self.endpoints: list[str] = [endpoints] if isinstance(endpoints, str) else list(endpoints)
        self.hosts_file: str | None = getattr(args, "hosts", None)
        self.endpoint_given = self.endpoints[-1] if self.endpoints else None
        # through ssh without an endpoint: circusd's default on the ssh host (the client asks)
        self.endpoint: str | None = self.endpoint_given or os.environ.get(ENDPOINT_ENV)
        if not self.endpoint and not getattr(args, "ssh", None):
            self.endpoint = default_endpoint()
        timeout = getattr(args, "timeout", None)
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self.json = bool(getattr(args, "json", False))
        self.serial = bool(getattr(args, "serial", False))
        self.prettify = bool(getattr(args, "prettify", False))
        self.curve_secret_key = getattr(args, "curve_secret_key", None)
        self.curve_server_key = getattr(args, "curve_server_key", None)
        self.ssh_server: str | None = getattr(args, "ssh", None)
        self.ssh_keyfile: str | None = getattr(args, "ssh_keyfile", None)
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._client: CircusClient | None = None

    @property
    def fleet(self) -> bool:
        """Several circusds: ``--hosts FILE`` or more than one ``--endpoint``."""
        return bool(self.hosts_file) or len(self.endpoints) > 1

    def client(self) -> CircusClient:
        if self._client is None:
            from circus.client import CircusClient

            try:
                self._client = CircusClient(
                    endpoint=self.endpoint,
                    timeout=self.timeout,
                    ssh_server=self.ssh_server,
                    ssh_keyfile=self.ssh_keyfile,
                    curve_secret_key=self.curve_secret_key,
                    curve_server_key=self.curve_server_key,
                )
            except ConfigError as exc:
                raise CallError(str(exc)) from None
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.stop()
            self._client = None

    def merge(self, args: argparse.Namespace) -> Session:
        """Options given after the command override the session's for this one call."""
        overrides = {
            key: getattr(args, key)
            for key in (
                "endpoint",
                "hosts",
                "timeout",
                "serial",
                "json",
                "prettify",
                "curve_secret_key",
                "curve_server_key",
                "ssh",
                "ssh_keyfile",
            )
            if getattr(args, key, None) not in (None, False)
        }
        if not overrides:
            return self
        base = {
            "endpoint": self.endpoints,
            "hosts": self.hosts_file,
            "timeout": self.timeout,
            "serial": self.serial,
            "json": self.json,
            "prettify": self.prettify,
            "curve_secret_key": self.curve_secret_key,
            "curve_server_key": self.curve_server_key,
            "ssh": self.ssh_server,
            "ssh_keyfile": self.ssh_keyfile,
        }
        base.update(overrides)
        return Session(argparse.Namespace(**base), self.out, self.err)

    # --- output -------------------------------------------------------------------------------

    def print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def error(self, text: str) -> None:
        print(text, file=self.err, flush=True)

    def format_json(self, reply: dict[str, Any]) -> str:
        if not self.prettify:
            return json.dumps(reply)
        text = json.dumps(reply, indent=2, sort_keys=True)
        if self.out.isatty():
            try:
                import pygments
                from pygments.formatters import TerminalFormatter
                from pygments.lexers import JsonLexer

                return pygments.highlight(text, JsonLexer(), TerminalFormatter()).rstrip("\n")
            except ImportError:
                pass
        return text


def run_command(session: Session, commands: Mapping[str, Command], args: argparse.Namespace) -> int:
    """Run the command parsed in ``args``; print its output; return the exit code."""
    merged = session.merge(args)
    try:
        return _run_command(merged, commands[args.command], args)
    finally:
        if merged is not session:  # the options of this command made a client of its own
            merged.close()


def _run_command(session: Session, command: Command, args: argparse.Namespace) -> int:
    if getattr(args, "help", False):
        session.print(command.help_text())
        return EXIT_OK
    opts = {option.name: getattr(args, f"flag_{option.name}") for option in command.flags}
    try:
        message = command.message(*args.args, **opts)
    except (ArgumentError, ValueError) as exc:
        session.error(f"{exc}\nusage: circusctl {command.name} {command.usage}".rstrip())
        return EXIT_USAGE
    if session.fleet:
        return run_fleet(session, command, message)
    if command.msg_type == "sub":
        return listen(session, message)
    try:
        reply = session.client().call(message)
        if session.json:
            session.print(session.format_json(reply))
            return EXIT_ERROR_REPLY if reply.get("status") == "error" else EXIT_OK
        text = command.console_msg(reply)
    except CallError as exc:
        text = str(exc)
        if "timed out" in text.lower():
            text += TIMEOUT_HINT
        session.error(text.rstrip("\n"))
        return EXIT_CALL_ERROR
    if reply.get("status") == "error":
        session.error(text)
        return EXIT_ERROR_REPLY
    session.print(text)
    return EXIT_OK


def session_hosts(session: Session) -> list[Host]:
    """The fleet of ``--hosts``/``--endpoint``, with the session's CURVE and ssh options."""
    from circus.cli import fleet  # fleet mode only (with the hosts file's configparser)

    return fleet.fleet_hosts(
        session.endpoints,
        session.hosts_file,
        session.curve_secret_key,
        session.curve_server_key,
        session.ssh_server,
        session.ssh_keyfile,
    )


def run_fleet(session: Session, command: Command, message: dict[str, Any]) -> int:
    """Run one command on every host of the session; one block (or JSON entry) per host."""
    from circus.cli import fleet

    if command.msg_type == "sub":
        session.error(f"{command.name} follows one circusd: give a single --endpoint")
        return EXIT_USAGE
    try:
        hosts = session_hosts(session)
    except ConfigError as exc:
        session.error(f"error: {exc}")
        return EXIT_USAGE
    printer = fleet.BlockPrinter(command, session.out)
    streaming = session.serial and not session.json  # serial: each block as its host is done
    results = fleet.call_fleet(
        hosts, message, session.timeout, session.serial, printer if streaming else None
    )
    skipped = hosts[len(results) :]
    if session.json:
        fleet.print_json(results, session.out, session.format_json, skipped)
    else:
        if not streaming:
            fleet.print_blocks(results, command, session.out)
        for host in skipped:
            printer.skipped(host, results[-1])
    codes = [_host_exit(result) for result in results]
    failed = [r.host.name for r, code in zip(results, codes, strict=True) if code != EXIT_OK]
    if failed:
        session.error(
            f"circusctl: {len(failed)} of {len(hosts)} hosts failed: {', '.join(failed)}"
            + (f"; not run on: {', '.join(h.name for h in skipped)}" if skipped else "")
        )
    return max(codes, key=EXIT_SEVERITY.index)


def _host_exit(result: HostResult) -> int:
    if result.reply is None:
        return EXIT_CALL_ERROR
    return EXIT_ERROR_REPLY if result.reply.get("status") == "error" else EXIT_OK


def listen(session: Session, message: dict[str, Any]) -> int:
    """Print events (``topic: json``) until interrupted."""
    from circus.util.no_openssl import import_asyncio

    import_asyncio()  # circus.events imports it: without OpenSSL (~4 ms of CPU)
    from circus.events import EventSubscriber

    try:
        endpoint = message.get("endpoint") or session.endpoint_given or _pubsub_endpoint(session)
        subscriber = EventSubscriber(
            endpoint,
            message["topics"],
            curve_secret_key=session.curve_secret_key,
            curve_server_key=session.curve_server_key,
            ssh_server=session.ssh_server,
            ssh_keyfile=session.ssh_keyfile,
        )
    except (CallError, ConfigError, OSError) as exc:
        session.error(f"cannot listen: {exc}")
        return EXIT_CALL_ERROR
    try:
        for topic, payload in subscriber:
            body = payload if isinstance(payload, str) else json.dumps(payload)
            session.print(f"{topic}: {body}")
    except KeyboardInterrupt:
        pass
    finally:
        subscriber.close()
    return EXIT_OK


def _pubsub_endpoint(session: Session) -> str:
    """Ask circusd where it publishes; fall back to the default pub/sub endpoint."""
    try:
        reply = session.client().call(
            {"command": "globaloptions", "properties": {"option": "pubsub_endpoint"}}
        )
        endpoint = (reply.get("options") or {}).get("pubsub_endpoint")
        if reply.get("status") == "ok" and endpoint:
            return str(endpoint)
    except CallError:
        if session.ssh_server:  # the default below is this host's, not the ssh host's
            raise
    return default_pubsub_endpoint()


class Shell(cmd.Cmd):
    """The interactive shell: every command as ``do_<name>``, with help and completion."""

    prompt = "(circusctl) "

    def __init__(self, session: Session, commands: Mapping[str, Command], parser: _Parser):
        super().__init__()
        self.session, self.commands, self.parser = session, commands, parser
        self._watchers: tuple[float, list[str]] = (0.0, [])

    def get_names(self) -> list[str]:
        names = set(super().get_names())
        names.update(f"do_{name}" for name in self.commands)
        names.update(f"help_{name}" for name in self.commands)
        return sorted(names)

    def __getattr__(self, attr: str) -> Any:
        prefix, _, name = attr.partition("_")
        if name in self.__dict__.get("commands", {}):
            if prefix == "do":
                return lambda line: self.run(name, line)
            if prefix == "help":
                return lambda: self.session.print(self.commands[name].help_text())
            if prefix == "complete":
                return lambda text, *rest: self.complete_args(name, text)
        raise AttributeError(attr)

    def run(self, name: str, line: str) -> bool:
        try:
            words = shlex.split(line)
            args = parse(self.parser, [name, *words])
        except (ValueError, UsageError) as exc:
            self.session.error(f"error: {exc}")
            return False
        run_command(self.session, self.commands, args)
        return False

    def complete_args(self, name: str, text: str) -> list[str]:
        if text.startswith("-"):
            flags = [f"--{option.name}" for option in self.commands[name].flags]
            return [flag for flag in flags if flag.startswith(text)]
        return [watcher for watcher in self.watcher_names() if watcher.startswith(text)]

    def watcher_names(self) -> list[str]:
        """Watcher names for completion, cached for a few seconds."""
        fetched_at, names = self._watchers
        if time.monotonic() - fetched_at > SHELL_CACHE_SECONDS:
            try:
                reply = self.session.client().call({"command": "list", "properties": {}})
                names = list(reply.get("watchers") or [])
            except CallError:
                names = []
            self._watchers = (time.monotonic(), names)
        return names

    def do_exit(self, line: str) -> bool:
        """Leave the shell (circusd keeps running; `quit` would stop it)."""
        return True

    def do_EOF(self, line: str) -> bool:
        """Leave the shell (Ctrl-D)."""
        self.session.print("")
        return True

    def emptyline(self) -> bool:
        return False


def load_remote_commands(session: Session) -> Mapping[str, Command]:
    """Import the command modules circusd loaded (``[circus] commands``); every command."""
    modules = command_modules.remote_modules(lambda message: session.client().call(message))
    for failure in command_modules.import_modules(modules):
        session.error(failure)
    return get_commands()


def load_fleet_commands(session: Session, name: str) -> Mapping[str, Command]:
    """Import the command modules of the fleet's circusds until command ``name`` is known."""
    try:
        hosts = session_hosts(session)
    except ConfigError:
        return get_commands()  # run_fleet reports the bad hosts file
    for failure in command_modules.load_for_fleet(hosts, name, session.timeout):
        session.error(failure)
    return get_commands()


def _with_remote_commands(
    argv: Sequence[str], commands: Mapping[str, Command], parser: _Parser
) -> tuple[Mapping[str, Command], _Parser]:
    """An unknown command may be one of circusd's third-party commands: load them."""
    index = _first_word(argv)
    if index is None or argv[index] in commands:
        return commands, parser
    try:
        args = parser.parse_args(argv[:index])  # the global options: where circusd is
    except UsageError:
        return commands, parser  # reported by the real parse
    session = Session(args)
    try:
        if session.fleet:
            commands = load_fleet_commands(session, argv[index])
        else:
            commands = load_remote_commands(session)
    finally:
        session.close()
    return commands, build_parser(commands)


def run_shell(session: Session, commands: Mapping[str, Command], parser: _Parser) -> int:
    """No command given: print the version and the status, then read commands."""
    session.print(VERSION)
    commands = load_remote_commands(session)
    parser = build_parser(commands)
    shell = Shell(session, commands, parser)
    shell.run("status", "")
    try:
        shell.cmdloop()
    except KeyboardInterrupt:
        session.print("")
    finally:
        session.close()
    return EXIT_OK


@ends_process
@quiet_on_broken_pipe
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``circusctl``: with ``argv``, returns the exit code; without (the
    program), ends the process with it (:func:`~circus.util.fast_exit.ends_process`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands: Mapping[str, Command] = Commands()  # a run imports its command's module only
    commands, parser = _with_remote_commands(argv, commands, build_parser(commands))
    try:
        args = parse(parser, argv)
    except UsageError as exc:
        print(f"usage: {USAGE}\ncircusctl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "version", False):
        print(VERSION)
        return EXIT_OK
    if args.discover:
        if args.command is not None:
            print(
                "circusctl: error: --discover only lists circusds; run a command on them with "
                "--discover-format hosts (a --hosts file) or endpoints",
                file=sys.stderr,
            )
            return EXIT_USAGE
        return discover.run_discover(
            sys.stdout,
            sys.stderr,
            multicast=args.multicast,
            wait=args.timeout,
            interfaces=args.discover_interface,
            output=args.discover_format or "list",
            as_json=args.json,
        )
    if args.command is None:
        if args.help:
            print(general_help(commands))
            return EXIT_OK
        if Session(args).fleet:
            print(
                "circusctl: error: the interactive shell drives one circusd: give a command to "
                "run on several (--hosts, repeated --endpoint)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        return run_shell(Session(args), commands, parser)
    session = Session(args)
    try:
        return run_command(session, commands, args)
    except KeyboardInterrupt:
        return EXIT_CALL_ERROR
    except BrokenPipeError:  # `circusctl ... | head`
        return EXIT_OK
    except CircusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CALL_ERROR
    finally:
        session.close()


if __name__ == "__main__":
    sys.exit(main())
