"""``circusd-stats``: publish the CPU, memory and socket statistics of a running circusd.

Options as the original (``--endpoint``, ``--pubsub``, ``--statspoint``, ``--log-level``,
``--log-output``, ``--version``) plus ``--interval``. Endpoints default to circusd's defaults
(``ipc://<runtime dir>/circus.sock``, ``pubsub.sock``, ``stats.sock``). circusd runs it itself
with ``statsd = true``. Exit codes: 0 after SIGTERM/SIGINT, 1 when it cannot run (the stats
endpoint cannot be bound, a bad option value), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import resource
import signal
import sys

import zmq

from circus import __version__
from circus.control.defaults import (
    default_endpoint,
    default_pubsub_endpoint,
    default_stats_endpoint,
)
from circus.errors import CircusError
from circus.util.fast_exit import ends_process
from circus.util.no_openssl import import_asyncio
from circus.util.pdeathsig import die_with_parent
from papa_kernel.helpwidth import HelpFormatter

asyncio = import_asyncio()  # without OpenSSL (circusd-stats uses no TLS): ~8 ms at each start

log = logging.getLogger("circus.stats")
_PARENT = os.getppid()  # read at import, as early as possible: see die_with_parent

EXIT_OK = 0
EXIT_RUNTIME_ERROR = 1  # the stats endpoint cannot be bound, logging cannot be set up
MIN_INTERVAL = 0.1  # seconds: below, sampling a large circusd would never rest


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="circusd-stats",
        description="Runs the stats aggregator for Circus",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--endpoint", help="the circusd ZeroMQ control socket to connect to")
    parser.add_argument("--pubsub", help="the circusd ZeroMQ pub/sub socket to connect to")
    parser.add_argument("--statspoint", help="the ZeroMQ pub/sub socket to send data to")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between two samples (default: 1)"
    )
    parser.add_argument(
        "--socket",
        action="append",
        default=[],
        metavar="NAME=FD",
        help="a socket of circusd inherited at FD (circusd passes its own sockets)",
    )
    parser.add_argument(
        "--die-with-parent",
        action="store_true",
        help="end when the parent process ends, even a SIGKILLed one (circusd passes it)",
    )
    parser.add_argument(
        "--curve-secret-key", default=None, help="CURVE: this client's certificate file"
    )
    parser.add_argument(
        "--curve-server-key", default=None, help="CURVE: circusd's public certificate file"
    )
    parser.add_argument("--log-level", dest="loglevel", default="info", help="log level")
    parser.add_argument("--log-output", dest="logoutput", default="-", help="log output")
    parser.add_argument(
        "--ssh",
        default=None,
        help="not supported: circusd-stats reads the processes' figures from this machine's "
        "/proc, so it runs on circusd's host (circus-top --ssh reads its stats from afar)",
    )
    parser.add_argument("--version", action="version", version=__version__)
    return parser


def _raise_fd_limit() -> None:
    """One open /proc file per followed process: use the hard limit of descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _parse_sockets(parser: argparse.ArgumentParser, items: list[str]) -> dict[str, int]:
    inherited = {}
    for item in items:
        name, _, fd = item.partition("=")
        if not name or not fd.isdigit():
            parser.error(f"--socket {item!r}: expected NAME=FD")
        inherited[name] = int(fd)
    return inherited


async def _serve(args: argparse.Namespace, inherited: dict[str, int]) -> int:
    """Signal handlers first, then the stats endpoint: a SIGTERM at any moment after the bind
    lets circusd-stats remove its ipc socket file."""
    from circus.stats.streamer import StatsStreamer

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        loop.add_signal_handler(signum, stopping.set)
    statspoint = args.statspoint or default_stats_endpoint()
    try:
        streamer = StatsStreamer(
            args.endpoint or default_endpoint(),
            args.pubsub or default_pubsub_endpoint(),
            statspoint,
            interval=args.interval,
            inherited_sockets=inherited,
            curve_secret_key=args.curve_secret_key,
            curve_server_key=args.curve_server_key,
        )
    except (CircusError, OSError, zmq.ZMQError) as exc:
        print(f"circusd-stats: cannot publish on {statspoint}: {exc}", file=sys.stderr)
        return EXIT_RUNTIME_ERROR
    if stopping.is_set():
        streamer.stop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        loop.add_signal_handler(signum, streamer.stop)
    await streamer.run()
    return EXIT_OK


@ends_process
def main(argv: list[str] | None = None) -> int:
    """circusd-stats' command line: with ``argv``, returns the exit status; without (the
    program), ends the process with it (:func:`~circus.util.fast_exit.ends_process`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.ssh:
        parser.error(
            "--ssh is not supported: circusd-stats reads CPU and memory of circusd's processes "
            "from this machine's /proc, so it must run on circusd's host ([circus] statsd = "
            "true); read its stats from here with circus-top --ssh"
        )
    if not args.interval >= MIN_INTERVAL:
        parser.error(f"--interval must be at least {MIN_INTERVAL} seconds, got {args.interval}")
    inherited = _parse_sockets(parser, args.socket)
    from circus.util.logsetup import configure_logging

    try:
        configure_logging(args.loglevel, args.logoutput)
    except CircusError as exc:
        print(f"circusd-stats: {exc}", file=sys.stderr)
        return EXIT_RUNTIME_ERROR
    _raise_fd_limit()
    if args.die_with_parent:  # run by circusd: do not outlive it
        die_with_parent(_PARENT)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(_serve(args, inherited))
    except CircusError as exc:  # an endpoint that cannot be used ("bogus"), circusd refusing
        print(f"circusd-stats: {exc}", file=sys.stderr)
        return EXIT_RUNTIME_ERROR
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
