"""circus-top in a real terminal (tmux), as a person uses it: what the screen shows, resizing,
quitting with q and with Ctrl-C.

The two tests with a circusd share one, and its circusd-stats (shared_daemon.py checks the
watchers before each test and puts them back after)."""

from __future__ import annotations

import re
import socket
import sys
import threading

import pytest
from shared_daemon import shared_circusd
from support import WORKER_CMD, Tmux, free_port

from circus.cli import circus_top

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def terminal(tmp_path):
    """Factory: ``terminal(argv, width, height)`` runs argv in a tmux pane; closed after."""
    opened: list[Tmux] = []

    def factory(argv: list[str], width: int = 100, height: int = 40) -> Tmux:
        opened.append(Tmux(tmp_path, argv, width, height))
        return opened[-1]

    yield factory
    for tmux in opened:
        tmux.close()


def top_argv(endpoint: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "circus.cli.circus_top", "--endpoint", endpoint, *extra]


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory, module_circusd_stats):
    port = free_port()
    body = f"""
        [watcher:web]
        cmd = {WORKER_CMD} http $(circus.sockets.web)
        use_sockets = true
        numprocesses = 2

        [watcher:sleepy]
        cmd = {WORKER_CMD} sleep
        numprocesses = 3

        [socket:web]
        host = 127.0.0.1
        port = {port}
    """
    with shared_circusd(tmp_path_factory.mktemp("top"), body) as shared:
        # it samples every 0.25 s instead of every second (the default): the tests wait for
        # what the screen shows of its rounds
        shared.port = port
        shared.stats = module_circusd_stats(shared.daemon, "--interval", "0.25")
        yield shared


@pytest.fixture
def shared(module_daemon):
    """The module's circusd (as it started: checked before the test, put back after) and its
    circusd-stats."""
    with module_daemon.test():
        yield module_daemon


def test_shows_watchers_processes_totals_and_socket_hits(shared, terminal):
    d, stats, port = shared.daemon, shared.stats, shared.port
    # a repaint a round of circusd-stats (0.25 s), not every second (the default); a stopped
    # process is dropped after 4 rounds without news of it
    top = terminal(top_argv(stats.endpoint, "--process-timeout", "1", "--refresh", "0.25"))
    top.wait_screen(lambda s: "Waiting for data" in s or "Circus Top" in s)
    pids = d.pids("sleepy") + d.pids("web")
    screen = top.wait_screen(
        lambda s: (
            all(str(p) in s for p in pids)
            and "(circusd-stats)" in s
            and "(circusd)" in s
            and s.count("(avg)") == 3
            and s.count("(sum)") == 4
        ),  # 3 groups of processes and the sockets
        message="every pid, circusd and circusd-stats, the totals",
    )
    lines = screen.splitlines()
    assert lines[0] == "Circus Top"
    for name in ("circus", "sleepy", "web", "sockets"):
        assert name in lines, name
    assert "PID" in screen and "CPU (%)" in screen and "MEMORY (%)" in screen
    assert f"{d.proc.pid} (circusd)" in screen and f"{stats.proc.pid} (circusd-stats)" in screen
    sleepy = lines.index("sleepy")
    assert re.search(r"\d+\.\d\d \(avg\)\s+\d+\.\d\d \(sum\)", lines[sleepy + 5])

    # hits are counted per round (0.25 s) and the screen shows the last round's: requests
    # keep coming while the screen is read
    stop = threading.Event()

    def knock() -> None:
        while not stop.wait(0.05):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                conn.recv(100)

    knocker = threading.Thread(target=knock, daemon=True)
    knocker.start()
    try:
        top.wait_screen(lambda s: re.search(rf"127\.0\.0\.1:{port}\s+[1-9]\d*\n", s),
                        message="socket hits")  # fmt: skip
    finally:
        stop.set()
        knocker.join(timeout=10)

    d.ok("decr", name="sleepy", nb=1, waiting=True)
    left = d.pids("sleepy")
    gone = set(pids[:3]) - set(left)
    top.wait_screen(
        lambda s: not any(f"  {p} " in s for p in gone) and all(f"  {p} " in s for p in left),
        message="the stopped process dropped after --process-timeout",
    )

    top.keys("q")
    top.wait_screen(lambda s: "EXITED 0" in s, message="quit on q")


def test_resizes_cleanly_and_quits_on_ctrl_c(shared, terminal):
    d, stats = shared.daemon, shared.stats
    top = terminal(top_argv(stats.endpoint, "--refresh", "0.25"), width=120, height=40)
    pids = d.pids("sleepy")
    top.wait_screen(lambda s: all(str(p) in s for p in pids), message="the pids")

    top.resize(44, 10)

    def narrow(screen: str) -> bool:
        lines = screen.splitlines()
        return lines[:2] == ["Circus Top", "-" * 43] and all(len(line) <= 44 for line in lines)

    screen = top.wait_screen(narrow, message="the screen at 44 columns")
    assert len(screen.splitlines()) <= 10

    top.resize(100, 30)
    top.wait_screen(
        lambda s: s.splitlines()[1] == "-" * 99 and "AGE (s)" in s, message="the screen widened"
    )

    top.keys("C-c")
    screen = top.wait_screen(lambda s: "EXITED 0" in s, message="quit on Ctrl-C")
    assert "Traceback" not in screen and "Circus Top" not in screen  # terminal restored


def test_a_terminal_grown_under_it_keeps_every_line(shared, terminal):
    """circus-top starts believing the terminal has 24 lines (its scroll region is set to rows
    1-24), then learns it has 40: the lines it moves afterwards (a watcher added above the
    others) must be where it moved them, every cell of them."""
    import shlex
    import subprocess

    d, stats = shared.daemon, shared.stats
    top_cmd = " ".join(shlex.quote(a) for a in top_argv(stats.endpoint, "--refresh", "0.25"))
    top = terminal(["sh", "-c", f"stty rows 24 cols 100; exec {top_cmd}"], width=100, height=40)
    top.wait_screen(lambda s: s.count("(avg)") == 2, message="what 24 lines hold")
    tty = top._tmux("display-message", "-p", "-t", "t", "#{pane_tty}").strip()
    subprocess.run(["stty", "-F", tty, "rows", "40", "cols", "100"], check=True, timeout=10)
    top.wait_screen(lambda s: s.count("(avg)") == 3, message="the 40 lines")
    d.ok("add", name="added", cmd=f"{WORKER_CMD} sleep", start=True, waiting=True)

    def laid_out(screen: str) -> bool:
        lines = screen.splitlines()
        groups = [line for line in lines if line in ("added", "circus", "sleepy", "sockets", "web")]
        totals = [line for line in lines if "(older)" in line]
        return (
            groups == ["added", "circus", "sleepy", "sockets", "web"]
            and len(totals) == 4 and all("(avg)" in line and "(sum)" in line for line in totals)
            and not any(re.fullmatch(r"\s+\d+\.\d+", line) for line in lines)  # a lone age
        )  # fmt: skip

    top.wait_screen(laid_out, message="every group, whole, in order")
    top.keys("q")
    top.wait_screen(lambda s: "EXITED 0" in s, message="quit on q")


def test_waits_for_data_without_circusd_stats(tmp_path, terminal):
    top = terminal(top_argv(f"ipc://{tmp_path}/nobody.sock"))
    top.wait_screen(lambda s: "*** Waiting for data ***" in s)
    top.keys("q")
    top.wait_screen(lambda s: "EXITED 0" in s)


def test_usage_errors(capsys):
    for bad, why in (
        (["--process-timeout", "0"], "--process-timeout must be positive"),
        (["--refresh", "0.05"], "--refresh must be at least 0.1 seconds, got 0.05"),
        (["--ssh", "me@host:port"], "circus-top"),
        (["--nope"], "unrecognized arguments: --nope"),
    ):
        with pytest.raises(SystemExit) as exited:  # in this process: refused before any start
            circus_top.main(["--endpoint", "ipc:///nowhere", *bad])
        assert exited.value.code == 2 and why in capsys.readouterr().err, bad
