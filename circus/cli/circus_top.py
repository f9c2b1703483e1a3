"""``circus-top``: a read-only, top-like console of circusd-stats' stream.

Subscribes to the stats endpoint (``--endpoint``, default ``ipc://<runtime dir>/stats.sock``)
and shows, per watcher, the processes' CPU and memory with averages and sums, and the sockets'
hits (layout: :mod:`circus.stats.top`). It works with ours and the original circusd-stats.
``--ssh user@host[:port]`` (and ``--ssh_keyfile``) reads the stats of a circusd-stats on another
host through an ssh tunnel (:mod:`circus.wire.ssh`). Keys: ``q`` quits (so does Ctrl-C); the
screen follows terminal resizes. Exit codes: 0, 1 when the ssh tunnel cannot be made, or 2 on a
usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import curses
import math
import os
import sys
import time
from typing import TYPE_CHECKING

from circus import __version__
from circus.control.defaults import default_stats_endpoint
from circus.util.fast_exit import ends_process
from papa_kernel.helpwidth import HelpFormatter

if TYPE_CHECKING:
    from circus.stats.client import StatsClient
    from circus.stats.top import TopModel
    from circus.util.signal_wakeup import SignalWakeup

REPAINT_INTERVAL = 1.0  # seconds between two repaints when data keeps coming (--refresh)
MIN_REFRESH = 0.1  # seconds: the shortest --refresh
QUIT_KEYS = (ord("q"), ord("Q"))
EXIT_CANNOT_CONNECT = 1  # the ssh tunnel could not be made


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="circus-top", description="Runs Circus Top", formatter_class=HelpFormatter
    )
    parser.add_argument("--endpoint", help="the circusd-stats ZeroMQ socket to connect to")
    parser.add_argument(
        "--process-timeout",
        type=float,
        default=3.0,
        help="after this delay of inactivity (seconds), a process is removed",
    )
    parser.add_argument(
        "--refresh",
        type=float,
        default=REPAINT_INTERVAL,
        help=f"seconds between two repaints while data comes (default: {REPAINT_INTERVAL:g})",
    )
    parser.add_argument(
        "--ssh",
        default=None,
        help="SSH Server in the format user@host[:port]: read the stats through an ssh tunnel "
        "(--endpoint as that host sees it; default: the default stats endpoint there)",
    )
    parser.add_argument(
        "--ssh_keyfile", default=None, help="path to the keyfile to authorise the user"
    )
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
    if not lines or not columns:  # a terminal that does not know its size (script without one)
        return False
    if (lines, columns) == screen.getmaxyx():
        return False
    curses.resizeterm(lines, columns)
    curses.update_lines_cols()
    return True


def _reset_scroll_region(screen: curses.window) -> None:
    """Make the terminal's scroll region the whole screen again. curses set it to the size it
    found at start; after the terminal grew (a resize, or a size that changed while curses
    started), ncurses moves lines with insert/delete-line as if the region were the whole
    screen, but the terminal acts inside the old one: lines below it were lost or left stale.
    The cursor goes home: the caller repaints every cell next (``clear``)."""
    csr = curses.tigetstr("csr")
    if csr:
        lines = screen.getmaxyx()[0]
        curses.putp(curses.tparm(csr, 0, lines - 1))


def run(
    screen: curses.window,
    client: StatsClient,
    process_timeout: float,
    refresh: float = REPAINT_INTERVAL,
) -> None:
    """The console loop: read stats, read keys, repaint (at most every ``refresh`` seconds,
    and at once after a resize); returns on ``q``. It sleeps until stats or a key come, the
    terminal is resized (SIGWINCH, through the signal wakeup fd) or the next repaint is due."""
    from circus.stats.top import TopModel

    with contextlib.suppress(curses.error):
        curses.curs_set(0)
    screen.nodelay(True)
    model = TopModel(process_timeout)
    wakeup = _on_resize()
    poller = client.poller(sys.stdin.fileno(), *([wakeup.fileno()] if wakeup else []))
    painted = 0.0  # monotonic time of the last repaint (0: repaint now)
    try:
        while True:
            poller.poll(math.ceil(max(0.0, painted + refresh - time.monotonic()) * 1000))
            if wakeup is not None:
                wakeup.drain()
            quit_key, resized = _read(screen, client, model)
            if quit_key:
                return
            if _follow_resize(screen) or resized:
                _reset_scroll_region(screen)
                screen.clear()  # the terminal reflowed the old screen: redraw every cell
                painted = 0.0  # repaint now, at the new size
            now = time.monotonic()
            if now - painted >= refresh:
                model.expire()
                _paint(screen, model.lines(screen.getmaxyx()[1]))
                painted = now
    finally:
        if wakeup is not None:
            wakeup.close()


def _read(screen: curses.window, client: StatsClient, model: TopModel) -> tuple[bool, bool]:
    """Read every stat and key waiting: ``(a quit key came, ncurses reported a resize)``."""
    message = client.next_stat(timeout=0)
    while message is not None:
        model.update(*message)
        message = client.next_stat(timeout=0)
    resized = False
    key = screen.getch()
    while key != -1:
        if key in QUIT_KEYS:
            return True, resized
        # ncurses resized itself (its SIGWINCH handling, inside getch) before it returned
        # KEY_RESIZE: the size then matches and _follow_resize sees no change, but the
        # terminal reflowed the old screen all the same
        resized = resized or key == curses.KEY_RESIZE
        key = screen.getch()
    return False, resized


def _on_resize() -> SignalWakeup | None:
    """Make a terminal resize (SIGWINCH) wake the loop: a Python handler (the loop itself
    resizes curses to the terminal, :func:`_follow_resize`) and the signal wakeup fd. None
    where Python cannot (off the main thread), or the fd is taken: the loop then sees a
    resize at its next wake (at most ``refresh`` seconds)."""
    import signal

    from circus.util.signal_wakeup import SignalWakeup

    wakeup = SignalWakeup.install()
    if wakeup is not None:
        signal.signal(signal.SIGWINCH, lambda signum, frame: None)
    return wakeup


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


@ends_process
def main(argv: list[str] | None = None) -> int:
    """circus-top's command line: with ``argv``, returns the exit status; without (the
    program), ends the process with it (:mod:`circus.util.fast_exit`)."""
    from circus.errors import CallError
    from circus.stats.client import StatsClient
    from circus.wire.ssh_address import SshServer

    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.process_timeout > 0:
        parser.error(f"--process-timeout must be positive, got {args.process_timeout}")
    if not args.refresh >= MIN_REFRESH:
        parser.error(f"--refresh must be at least {MIN_REFRESH} seconds, got {args.refresh}")
    if args.ssh:
        try:
            SshServer.parse(args.ssh)
        except CallError as exc:
            parser.error(str(exc))
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        parser.error("circus-top needs a terminal (its stdin and stdout are not one)")
    if not args.ssh:  # through ssh, the tunnel is the local end and says what is wrong
        endpoint = args.endpoint or default_stats_endpoint()
        problem = _endpoint_problem(endpoint)
        if problem:
            parser.error(f"--endpoint {endpoint}: {problem}")
    try:  # before curses takes the screen, so that an ssh failure is printed plainly
        client = StatsClient(args.endpoint, args.ssh, ssh_keyfile=args.ssh_keyfile)
    except CallError as exc:
        print(f"circus-top: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CONNECT
    try:
        with contextlib.suppress(KeyboardInterrupt):
            curses.wrapper(run, client, args.process_timeout, args.refresh)
    finally:
        client.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
