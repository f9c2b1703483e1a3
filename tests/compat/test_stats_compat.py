"""circusd-stats and circus-top against the original circus 0.19 (in .venv-circus019):

1. the original ``StatsClient`` reads our circusd-stats (topics, bodies);
2. the original ``circus-top`` shows our circusd-stats' stream, in a real terminal (tmux);
3. our ``circus-top`` shows the stream of the ORIGINAL circusd-stats (run by the original
   circusd with ``statsd = True``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import support
from shared_daemon import shared_circusd
from support import Tmux, free_port, subreaper, wait_for

pytestmark = [pytest.mark.compat, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parent.parent.parent
ORIGINAL_BIN = REPO / ".venv-circus019" / "bin"
WORKER = support.WORKER_CMD  # a sleeper is /bin/sleep; the others, Python -S

READ_WITH_ORIGINAL_CLIENT = """
import json, sys, time
import circus
assert ".venv-circus019" in circus.__file__, circus.__file__  # not ours (cwd on sys.path)
from circus.stats.client import StatsClient
client = StatsClient(endpoint=sys.argv[1])
wanted, seen, deadline = set(sys.argv[2].split(",")), {}, time.time() + 30
for watcher, subtopic, stat in client:
    kind = watcher + ("" if subtopic is None else ".N")
    seen.setdefault(kind, [watcher, subtopic, stat])
    if wanted <= set(seen) or time.time() > deadline:
        break
print(json.dumps(seen))
"""


def _need_original() -> None:
    if not (ORIGINAL_BIN / "python").exists():
        pytest.skip(f"the original circus is missing ({ORIGINAL_BIN}): run `make compat-venvs`")


@pytest.fixture(autouse=True)
def original_installed():
    _need_original()


@pytest.fixture(scope="module")
def module_ours(tmp_path_factory):
    """Our circusd (a web watcher on a socket, a sleepy one) and our circusd-stats, shared by
    the tests that read them (shared_daemon.py checks the watchers before each test)."""
    _need_original()
    port = free_port()
    body = f"""
        [watcher:web]
        cmd = {WORKER} http $(circus.sockets.web)
        use_sockets = true
        numprocesses = 2

        [watcher:sleepy]
        cmd = {WORKER} sleep

        [socket:web]
        host = 127.0.0.1
        port = {port}
    """
    with shared_circusd(tmp_path_factory.mktemp("ours"), body) as shared:
        daemon = shared.daemon
        endpoint = f"ipc://{daemon.workdir}/stats.sock"
        # it samples every 0.25 s instead of every second (the default): the tests wait for
        # its rounds, not for their length
        stats = subprocess.Popen(
            [sys.executable, "-m", "circus.cli.circusd_stats", "--endpoint", daemon.endpoint,
             "--pubsub", daemon.pubsub, "--statspoint", endpoint, "--interval", "0.25"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            yield shared, endpoint, stats.pid
        finally:
            stats.terminate()
            stats.wait(timeout=10)


@pytest.fixture
def ours(module_ours):
    """The module's circusd (as it started), the stats endpoint and circusd-stats' pid."""
    shared, endpoint, stats_pid = module_ours
    with shared.test() as daemon:
        yield daemon, endpoint, stats_pid


def test_original_stats_client_reads_ours(ours, tmp_path):
    daemon, endpoint, stats_pid = ours
    result = subprocess.run(
        [str(ORIGINAL_BIN / "python"), "-c", READ_WITH_ORIGINAL_CLIENT, endpoint,
         "web,web.N,sleepy,circus.N,circus,sockets,sockets.N"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,  # not our repo: see above
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert set(seen) >= {"web", "web.N", "sleepy", "circus.N", "circus", "sockets", "sockets.N"}
    _, subtopic, process = seen["web.N"]
    assert int(subtopic) == process["pid"] and process["pid"] in daemon.pids("web")
    assert {"cpu", "mem", "mem_info1", "mem_info2", "ctime", "pid", "username", "nice",
            "create_time", "age", "cmdline", "children"} <= set(process)  # fmt: skip
    assert sorted(seen["web"][2]["pid"]) == sorted(daemon.pids("web"))
    assert seen["circus.N"][2]["name"] in ("circusd", "circusd-stats")
    assert set(seen["circus"][2]["pid"]) == {daemon.proc.pid, stats_pid}
    assert seen["sockets"][2]["addresses"] == [seen["sockets.N"][2]["address"]]


def test_original_circus_top_shows_ours(ours, tmp_path):
    daemon, endpoint, stats_pid = ours
    top = Tmux(tmp_path, [str(ORIGINAL_BIN / "circus-top"), "--endpoint", endpoint])
    try:
        pids = daemon.pids("web") + daemon.pids("sleepy")
        top.wait_screen(
            lambda s: (
                all(str(p) in s for p in pids)
                and f"{stats_pid} (circusd-stats)" in s
                and "(sum)" in s
                and "127.0.0.1:" in s
            ),
            message="our pids, circusd-stats and the socket in the original circus-top",
        )
        top.keys("C-c")
        top.wait_screen(lambda s: "EXITED 0" in s, message="the original circus-top quit")
    finally:
        top.close()


def test_our_circus_top_shows_the_original_circusd_stats(tmp_path):
    workdir = tmp_path / "original"
    workdir.mkdir(mode=0o700)
    config = workdir / "circus.ini"
    config.write_text(
        textwrap.dedent(f"""\
        [circus]
        endpoint = ipc://{workdir}/ctl.sock
        pubsub_endpoint = ipc://{workdir}/pub.sock
        stats_endpoint = ipc://{workdir}/stats.sock
        statsd = True

        [watcher:sleepy]
        cmd = {WORKER} sleep
        numprocesses = 2
        """)
    )
    with subreaper():
        circusd = subprocess.Popen(
            [str(ORIGINAL_BIN / "circusd"), str(config)],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        top = Tmux(
            tmp_path,
            [sys.executable, "-m", "circus.cli.circus_top", "--endpoint",
             f"ipc://{workdir}/stats.sock", "--refresh", "0.25"],
        )  # fmt: skip
        try:
            wait_for(lambda: os.path.exists(workdir / "ctl.sock"), message="original circusd")
            screen = top.wait_screen(
                lambda s: "sleepy" in s and "(circusd-stats)" in s and s.count("(avg)") == 2,
                message="the original circusd-stats' stream in our circus-top",
            )
            lines = screen.splitlines()
            sleepy = lines.index("sleepy")
            assert len([line for line in lines[sleepy + 2 : sleepy + 4] if line.strip()]) == 2
            top.keys("q")
            top.wait_screen(lambda s: "EXITED 0" in s, message="our circus-top quit")
        finally:
            top.close()
            circusd.terminate()
            circusd.wait(timeout=30)
