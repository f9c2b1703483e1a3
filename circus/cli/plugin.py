"""``circus-plugin``: run one plugin (a :class:`circus.plugins.CircusPlugin` subclass).

circusd runs it for each ``[plugin:NAME]`` section (watcher ``plugin:NAME``); it also runs one by
hand, as the manual shows::

    circus-plugin --endpoint ipc://... --pubsub ipc://... --config filename:events.log \\
        myproject.plugins.Logger

``--config KEY:VALUE`` may be repeated; the original's ``KEY:VALUE:::KEY2:VALUE2`` form works
too. The plugin stops (``handle_stop``) on SIGTERM or SIGINT. A plugin that cannot be loaded or
whose ``handle_init`` raises is logged with its traceback and the process exits with
:data:`EXIT_LOAD_ERROR` or :data:`EXIT_START_ERROR`; run by circusd (``--watcher``), it first
asks circusd to stop its watcher, which ``circusctl status`` then shows ``stopped`` (it would
fail the same way at every respawn; ``circusctl start plugin:NAME`` tries again).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from circus import __version__
from circus.config.converters import to_duration
from circus.control.defaults import default_endpoint, default_pubsub_endpoint
from circus.errors import CallError, CircusError
from circus.util.dotted import import_callable
from circus.util.fast_exit import ends_process
from circus.util.logsetup import configure_logging
from circus.util.pdeathsig import die_with_parent
from papa_kernel.helpwidth import HelpFormatter

if TYPE_CHECKING:
    from circus.wire.ssh import SshTunnel  # --ssh only (with subprocess, threading)

log = logging.getLogger("circus.plugin")

EXIT_OK = 0
#: Bad command line (argparse's own code).
EXIT_USAGE = 2
#: The plugin class cannot be imported, or its constructor raised: retrying will not help.
EXIT_LOAD_ERROR = 3
#: ``handle_init`` raised, connecting to circusd failed, or the plugin's loop failed.
EXIT_START_ERROR = 4

#: Longest wait for circusd to accept the stop of our own watcher (seconds).
STOP_TIMEOUT = 5.0

#: The original's separator between items of one ``--config`` value.
ITEM_SEPARATOR = ":::"


def _duration(text: str) -> float:
    """``--check-delay``: a duration as ``[circus] check_delay`` takes it (>= 0, finite)."""
    value: float | str = text
    with contextlib.suppress(ValueError):
        value = float(text)  # circusd passes str(float): "1e-05" too
    try:
        return to_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="circus-plugin", description="Runs a plugin.", formatter_class=HelpFormatter
    )
    parser.add_argument("--endpoint", default=None, help="the circusd ZeroMQ socket to connect to")
    parser.add_argument(
        "--pubsub", default=None, help="the circusd ZeroMQ pub/sub socket to connect to"
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY:VALUE",
        help="an option of the plugin (repeatable; KEY:VALUE:::KEY2:VALUE2 also works)",
    )
    parser.add_argument(
        "--check-delay",
        type=_duration,
        default=5.0,
        metavar="SECONDS",
        help="passed to the plugin as check_delay (a duration: 5, 2.5, 500ms; default 5)",
    )
    parser.add_argument("--log-level", dest="loglevel", default="info", help="log level")
    parser.add_argument(
        "--log-output", dest="logoutput", default="-", help="log output: -, a file, syslog://"
    )
    parser.add_argument(
        "--watcher",
        default=None,
        metavar="NAME",
        help="the watcher running this plugin (circusd passes it): if the plugin cannot "
        "start, it asks circusd to stop that watcher instead of respawning it",
    )
    parser.add_argument(
        "--curve-secret-key", default=None, help="CURVE: this plugin's certificate file"
    )
    parser.add_argument(
        "--curve-server-key", default=None, help="CURVE: circusd's public certificate file"
    )
    parser.add_argument(
        "--ssh",
        default=None,
        help="SSH Server in the format user@host[:port]: reach circusd through an ssh tunnel "
        "(--endpoint and --pubsub as that host sees them; default: circusd's defaults there)",
    )
    parser.add_argument(
        "--ssh_keyfile", default=None, help="path to the keyfile to authorise the user"
    )
    parser.add_argument("--version", action="store_true", help="display the version and exit")
    parser.add_argument(
        "plugin", nargs="?", metavar="DOTTED.NAME", help="fully qualified name of the plugin class"
    )
    return parser


def parse_config(values: Sequence[str]) -> dict[str, str]:
    """``--config`` values as the constructor's keyword arguments; ValueError naming a bad
    item (one without ``:``)."""
    config: dict[str, str] = {}
    for value in values:
        for item in value.split(ITEM_SEPARATOR):
            key, sep, text = item.partition(":")
            if not sep or not key.strip():
                raise ValueError(f"--config {item!r}: expected KEY:VALUE")
            config[key.strip()] = text.strip()
    return config


@ends_process
def main(argv: list[str] | None = None) -> int:
    """circus-plugin's command line: with ``argv``, returns the exit status; without (the
    program), ends the process with it (:func:`~circus.util.fast_exit.ends_process`)."""
    parent = os.getppid()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(__version__)
        return EXIT_OK
    if args.plugin is None:
        parser.print_usage(sys.stderr)
        print("circus-plugin: the plugin's dotted name is required", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = parse_config(args.config)
        configure_logging(args.loglevel, args.logoutput)
    except (ValueError, CircusError) as exc:
        print(f"circus-plugin: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.watcher:  # run by circusd: do not outlive it (even a SIGKILLed one)
        die_with_parent(parent)
    from circus.util.no_openssl import import_asyncio, import_without_inspect

    import_asyncio()  # before the plugin (tornado) imports it: OpenSSL only if a plugin uses TLS
    # tornado's loop, without inspect (ast, dis: ~8 ms) unless a plugin uses it
    import_without_inspect("tornado.ioloop", "tornado.platform.asyncio")
    try:
        tunnel = _tunnel(args.ssh, args.ssh_keyfile) if args.ssh else None
    except CallError as exc:
        print(f"circus-plugin: {exc}", file=sys.stderr)
        return EXIT_START_ERROR
    try:
        return _main(args, config, tunnel)
    finally:
        if tunnel is not None:
            tunnel.release()


def _tunnel(server: str, keyfile: str | None) -> SshTunnel:
    from circus.wire.ssh import SshTunnel

    return SshTunnel.shared(server, keyfile)


def _main(args: argparse.Namespace, config: dict[str, str], tunnel: SshTunnel | None) -> int:
    """Load and run the plugin (through ``tunnel`` when ``--ssh``: the plugin's sockets share
    it, and the defaults are circusd's on the ssh host)."""
    try:
        endpoint = args.endpoint or _default(tunnel, default_endpoint())
        pubsub = args.pubsub or _default(tunnel, default_pubsub_endpoint())
    except CallError as exc:
        log.error("%s", exc)
        return EXIT_START_ERROR
    log.info("Loading the plugin...")
    log.info("Endpoint: %r", endpoint)
    log.info("Pub/sub: %r", pubsub)
    plugin = _load(args.plugin, endpoint, pubsub, args.check_delay, args.ssh, config)
    if plugin is not None and (args.curve_secret_key or args.curve_server_key):
        plugin.curve_secret_key = args.curve_secret_key
        plugin.curve_server_key = args.curve_server_key
    if plugin is not None and args.ssh_keyfile:
        plugin.ssh_keyfile = args.ssh_keyfile
    code = EXIT_LOAD_ERROR if plugin is None else _run(plugin, args.plugin)
    started = plugin is not None and getattr(plugin, "started", False)
    if code != EXIT_OK and args.watcher and not started:
        _stop_watcher(endpoint, args.watcher)
    return code


def _stop_watcher(endpoint: str, watcher: str) -> None:
    """Ask circusd to stop ``watcher`` (ours): a plugin that cannot load or start would fail
    the same way at every respawn, and its traceback is logged once. ``circusctl start``
    tries again."""
    from circus.client import CircusClient

    log.error("asking circusd to stop %s: the plugin could not start", watcher)
    try:
        with CircusClient(endpoint=endpoint, timeout=STOP_TIMEOUT) as client:
            client.call({"command": "stop", "properties": {"name": watcher, "match": "simple"}})
    except CircusError as exc:
        log.error("could not stop %s: %s", watcher, exc)


def _default(tunnel: SshTunnel | None, endpoint: str) -> str:
    return tunnel.remote_default(endpoint) if tunnel is not None else endpoint


def _load(
    name: str,
    endpoint: str,
    pubsub: str,
    check_delay: float,
    ssh_server: str | None,
    config: dict[str, str],
) -> Any:
    """The plugin object, or None (the reason logged with its traceback)."""
    try:
        factory = import_callable(name)
    except ValueError as exc:
        # import_callable gives a one-line reason; the import's own traceback is its context
        log.error("plugin %s cannot be loaded: %s", name, exc, exc_info=exc.__context__)
        return None
    try:
        return factory(endpoint, pubsub, check_delay, ssh_server, **config)
    except Exception:  # the plugin's own code may raise anything
        log.exception("plugin %s cannot be created with %r", name, config)
        return None


def _run(plugin: Any, name: str) -> int:
    loop = plugin.loop.asyncio_loop
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, plugin.stop)  # run on the loop, not in the handler
    log.info("Starting")
    code = EXIT_OK
    try:
        plugin.start()
    except KeyboardInterrupt:
        pass
    except Exception:  # handle_init, the connection or the loop of the plugin failed
        log.exception("plugin %s failed", name)
        code = EXIT_START_ERROR
    finally:
        log.info("Stopping")
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        try:
            plugin.stop()
        except Exception:
            log.exception("plugin %s failed to stop", name)
            code = code or EXIT_START_ERROR
    return code


if __name__ == "__main__":
    sys.exit(main())
