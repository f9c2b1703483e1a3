"""``circus-top``: a read-only, top-like console of circusd-stats' stream.

Subscribes to the stats endpoint (``--endpoint``, default ``ipc://<runtime dir>/stats.sock``)
and shows, per watcher, the processes' CPU and memory with averages and sums, and the sockets'
hits (layout: :mod:`circus.stats.top`). It works with ours and the original circusd-stats.
Keys: ``q`` quits (so does Ctrl-C); the screen follows terminal resizes. Exit codes: 0, or 2 on
a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import curses
import os
import sys
import time

from circus import __version__
from circus.control.defaults import default_stats_endpoint

REPAINT_INTERVAL = 1.0  # seconds between two repaints when data keeps coming
KEY_WAIT = 0.2  # seconds: how long one wait for stats lasts before the keyboard is read
QUIT_KEYS = (ord("q"), ord("Q"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="circus-top", description="Runs Circus Top")
    parser.add_argument("--endpoint", help="the circusd-stats ZeroMQ socket to connect to")
    parser.add_argument(
        "--process-timeout",
        type=float,
        default=3.0,
        help="after this delay of inactivity (seconds), a process is removed",
    )
    parser.add_argument("--ssh", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--version", action="version", version=__version__)
    return parser


def _paint(screen: curses.window, lines: list[str]) -> None:
    height, width = screen.getmaxyx()
    screen.erase()
    for row, line in enumerate(lines[:height]):
        with contextlib.suppress(curses.error):  # the bottom-right cell cannot be written
            screen.addstr(row, 0, line[: max(width - 1, 0)])
    screen.refresh()


def _follow_resize(screen: curses.window) -> bool:
    """Resize curses to the terminal if it changed (whether or not a KEY_RESIZE came: a
    program that is not reading keys at that moment can miss it); True if it did."""
    try:
        columns, lines = os.get_terminal_size()  # of stdout, the terminal curses draws on
    except (OSError, AttributeError, ValueError):
        return False
    if (lines, columns) == screen.getmaxyx():
        return False
    curses.resizeterm(lines, columns)
    curses.update_lines_cols()
    screen.clear()  # the terminal reflowed the old screen: redraw every cell
    return True


def run(screen: curses.window, endpoint: str, process_timeout: float) -> None:
    """The console loop: read stats, read keys, repaint; returns on ``q``."""
    from circus.stats.client import StatsClient
    from circus.stats.top import TopModel

    with contextlib.suppress(curses.error):
        curses.curs_set(0)
    screen.nodelay(True)
    model = TopModel(process_timeout)
    painted = 0.0  # monotonic time of the last repaint (0: repaint now)
    with StatsClient(endpoint) as client:
        while True:
            message = client.next_stat(timeout=KEY_WAIT)
            while message is not None:
                model.update(*message)
                message = client.next_stat(timeout=0)
            key = screen.getch()
            while key != -1:
                if key in QUIT_KEYS:
                    return
                key = screen.getch()
            if _follow_resize(screen):
                painted = 0.0  # repaint now, at the new size
            now = time.monotonic()
            if now - painted >= REPAINT_INTERVAL:
                model.expire()
                _paint(screen, model.lines(screen.getmaxyx()[1]))
                painted = now


def _endpoint_problem(endpoint: str) -> str | None:
    """Why ZeroMQ cannot connect to ``endpoint`` (checked before curses takes the screen)."""
    import zmq

    probe: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    try:
        probe.connect(endpoint)
    except zmq.ZMQError as exc:
        return str(exc)
    finally:
        probe.close(linger=0)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.ssh:
        parser.error("--ssh is not supported: use an ipc endpoint or a CURVE tcp endpoint")
    if not args.process_timeout > 0:
        parser.error(f"--process-timeout must be positive, got {args.process_timeout}")
    endpoint = args.endpoint or default_stats_endpoint()
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        parser.error("circus-top needs a terminal (its stdin and stdout are not one)")
    problem = _endpoint_problem(endpoint)
    if problem:
        parser.error(f"--endpoint {endpoint}: {problem}")
    with contextlib.suppress(KeyboardInterrupt):
        curses.wrapper(run, endpoint, args.process_timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
