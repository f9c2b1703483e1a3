"""circusd-stats against a real circusd: the original's topics and bodies, events followed."""

from __future__ import annotations

import os
import socket
import sys

import pytest
from shared_daemon import shared_circusd
from support import WORKER_CMD, free_port, wait_for

pytestmark = pytest.mark.timeout(90)

PROCESS_KEYS = {
    "cpu", "mem", "mem_info1", "mem_info2", "ctime", "pid", "username", "nice",
    "create_time", "age", "cmdline", "children", "subtopic", "name",
}  # fmt: skip

#: circusd-stats samples and publishes every 0.25 s instead of every second (the default): the
#: tests wait for rounds (and the busy worker burns a core until one shows its CPU).
FAST = ("--interval", "0.25")


def web_config(worker_cmd: str, port: int) -> str:
    return f"""
        [watcher:web]
        cmd = {worker_cmd} http $(circus.sockets.web)
        use_sockets = true
        numprocesses = 2

        [watcher:sleepy]
        cmd = {worker_cmd} sleep

        [socket:web]
        host = 127.0.0.1
        port = {port}
    """


#: A watcher that burns a core, started by the test that needs it.
BUSY = f"""
        [watcher:busy]
        cmd = {sys.executable} -c "while True: pass"
        autostart = false
"""


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory, module_circusd_stats):
    """One circusd (web_config and BUSY) and one circusd-stats for the tests that read them
    (shared_daemon.py checks the watchers before each test and puts them back after)."""
    port = free_port()
    body = web_config(WORKER_CMD, port) + BUSY
    with shared_circusd(tmp_path_factory.mktemp("stats"), body) as shared:
        shared.port = port
        shared.stats = module_circusd_stats(shared.daemon, *FAST)
        yield shared


@pytest.fixture
def shared(module_daemon):
    """The module's circusd (as it started: checked before the test, put back after) and its
    circusd-stats."""
    with module_daemon.test():
        yield module_daemon


def test_topics_and_bodies_are_the_originals(shared, collector):
    d, stats, port = shared.daemon, shared.stats, shared.port
    feed = collector(stats.endpoint)

    web_pids = sorted(d.pids("web"))
    _, subtopic, stat = feed.until(lambda w, s, _: w == "web" and s is not None)
    assert set(stat) == PROCESS_KEYS
    assert int(subtopic) == stat["pid"] == stat["subtopic"] and stat["pid"] in web_pids
    assert stat["name"] is None and stat["children"] == []
    assert stat["username"] and stat["cmdline"].startswith("python")
    assert stat["mem_info1"][-1] in "BKMG" and ":" in stat["ctime"]
    assert isinstance(stat["cpu"], float) and 0 < stat["mem"] < 100 and stat["age"] >= 0

    assert sorted(feed.pids_of("web")) == web_pids
    _, _, total = feed.until(lambda w, s, _: w == "sleepy" and s is None)
    assert set(total) == {"pid", "cpu", "mem", "age"} and total["pid"] == d.pids("sleepy")

    circus = {}
    feed.until(
        lambda w, s, st: (
            w == "circus"
            and s is not None
            and circus.setdefault(st["name"], st)
            and len(circus) == 2
        ),
        what="circusd and circusd-stats",
    )
    assert circus["circusd"]["pid"] == d.proc.pid
    assert circus["circusd-stats"]["pid"] == stats.proc.pid
    assert sorted(feed.pids_of("circus")) == sorted([d.proc.pid, stats.proc.pid])

    [listed] = d.ok("listsockets")["sockets"]

    def hit(watcher, subtopic, stat):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            conn.recv(100)
        return watcher == "sockets" and subtopic is not None and stat["reads"] > 0

    _, subtopic, sock = feed.until(hit, what="socket hits")
    assert sock == {
        "fd": listed["fd"],
        "subtopic": listed["fd"],
        "reads": sock["reads"],
        "address": f"127.0.0.1:{port}",
        "backlog": sock["backlog"],
    }
    assert int(subtopic) == listed["fd"] and isinstance(sock["backlog"], int)
    _, _, all_sockets = feed.until(lambda w, s, _: w == "sockets" and s is None)
    assert all_sockets["addresses"] == [f"127.0.0.1:{port}"]


def test_busy_worker_shows_cpu(shared, collector):
    d = shared.daemon
    d.ok("start", name="busy", waiting=True)  # stopped again after the test
    feed = collector(shared.stats.endpoint)
    feed.until(lambda w, s, st: w == "busy" and s is not None and st["cpu"] > 10, what="cpu")


def test_follows_watchers_and_processes_through_events(shared, collector, worker_cmd):
    d, stats = shared.daemon, shared.stats
    feed = collector(stats.endpoint)
    before = set(feed.pids_of("sleepy"))
    assert before == set(d.pids("sleepy"))

    d.ok("incr", name="sleepy", nb=2, waiting=True)  # (the count is put back after the test)
    after_incr = set(d.pids("sleepy"))
    assert len(after_incr) == 3
    feed.until(lambda w, s, st: w == "sleepy" and s is None and set(st["pid"]) == after_incr)

    d.ok("decr", name="sleepy", nb=2, waiting=True)
    left = set(d.pids("sleepy"))
    feed.until(lambda w, s, st: w == "sleepy" and s is None and set(st["pid"]) == left)

    d.ok("add", name="other", cmd=f"{worker_cmd} sleep", start=True, waiting=True)
    other = d.pids("other")
    feed.until(lambda w, s, st: w == "other" and s is None and st["pid"] == other)

    d.ok("rm", name="other", waiting=True)
    # after the removal, two full rounds of "sleepy" come without any "other"
    feed.until(lambda w, s, _: w == "sleepy" and s is None)
    feed.seen.clear()
    for _ in range(2):
        feed.until(lambda w, s, _: w == "sleepy" and s is None)
    assert not [m for m in feed.seen if m[0] == "other"]
    # all of this came through events: circusd was listed once, when circusd-stats started
    assert stats.log().count("listed circusd's processes") == 1, stats.log()


def test_starts_before_circusd_and_catches_up(
    tmp_path, runtime_dir, circusd_stats, collector, worker_cmd
):
    import support

    d = support.Circusd(
        tmp_path / "late",
        f"""
        [watcher:sleepy]
        cmd = {worker_cmd} sleep
    """,
    )
    try:
        stats = circusd_stats(d, *FAST)
        feed = collector(stats.endpoint)
        # it tries every second, or every interval when shorter (here 0.25 s): one warning,
        # then the attempts at debug level (a circusd away for an hour gave 3600 warnings), and
        # a line when circusd answers again
        wait_for(lambda: stats.log().count("still cannot list") >= 2, timeout=10,
                 message="circusd-stats trying again")  # fmt: skip
        assert stats.log().count("[WARNING] cannot list circusd's processes") == 1, stats.log()
        assert "(trying again every 0.25 s)" in stats.log()
        d.start()
        assert feed.pids_of("sleepy") == d.pids("sleepy")
        wait_for(lambda: f"circusd answers again at {d.endpoint}" in stats.log(),
                 message="the recovery is logged")  # fmt: skip
    finally:
        d.cleanup()


def proc_stat_fds(pid: int) -> set[int]:
    """Pids whose /proc/PID/stat ``pid`` holds open."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        parts = target.split("/")
        if len(parts) == 4 and parts[1] == "proc" and parts[3] == "stat":
            found.add(int(parts[2]))
    return found


def test_samples_nothing_until_somebody_subscribes(shared, circusd_stats, collector):
    """A circusd-stats of its own (the module's has had subscribers), which exits 0 on
    SIGTERM and removes its endpoint."""
    d = shared.daemon
    stats = circusd_stats(d, *FAST, name="unread")
    wait_for(lambda: "listed circusd's processes" in stats.log(), message="bootstrap")
    import time

    time.sleep(0.6)  # two publication rounds with nobody listening
    assert proc_stat_fds(stats.proc.pid) == set()
    feed = collector(stats.endpoint)
    feed.pids_of("web")
    assert set(d.pids("web")) <= proc_stat_fds(stats.proc.pid)

    assert stats.stop() == 0
    assert not os.path.exists(stats.endpoint[len("ipc://") :])


@pytest.fixture
def reloading(module_daemon):
    """Like ``shared``, for a test that rewrites the configuration: it is written back and
    reloaded after the test."""
    with module_daemon.test_reloading():
        yield module_daemon


def test_lets_go_of_a_socket_circusd_removed(reloading, collector):
    d, stats, port, body = reloading.daemon, reloading.stats, reloading.port, reloading.body
    feed = collector(stats.endpoint)
    feed.until(lambda w, s, _: w == "sockets" and s is None, what="socket stats")

    def port_free() -> bool:
        with socket.socket() as probe:
            try:
                probe.connect(("127.0.0.1", port))
            except ConnectionRefusedError:
                return True
        return False

    d.write_config(
        body.split("[watcher:web]")[0]
        + "[watcher:sleepy]"
        + body.split("[watcher:sleepy]")[1].split("[socket:web]")[0]
    )
    d.ok("reloadconfig", waiting=True)
    assert d.ok("listsockets")["sockets"] == []
    wait_for(port_free, timeout=10, message="nobody listening on the removed socket's port")


def test_command_line_errors(tmp_path, capsys):
    import subprocess
    import sys

    from circus.cli import circusd_stats

    def run(*args: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "circus.cli.circusd_stats", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=30)

    # usage errors are refused before anything starts: in this process (a Python start each
    # costs more than the check), and one as a real process
    for bad in (["--interval", "0"], ["--socket", "web"], ["--ssh", "me@host"]):
        with pytest.raises(SystemExit) as exited:
            circusd_stats.main(bad)
        assert exited.value.code == 2 and "circusd-stats" in capsys.readouterr().err, bad
    result = run("--nope")
    assert result.returncode == 2 and "circusd-stats" in result.stderr
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    result = run("--statspoint", f"ipc://{shared}/stats.sock")
    assert result.returncode == 1
    assert f"cannot publish on ipc://{shared}/stats.sock" in result.stderr
    assert "writable by group or others" in result.stderr
