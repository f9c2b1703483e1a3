"""circusd with real processes: start, respawn, stop, reload, incr/decr, wids, retries.

Most tests share one circusd (shared_daemon.py): each starts the watchers of the module's
config it uses (``autostart = false``) and the fixture stops them after it. Tests of a whole
configuration (every watcher stopped and started, the local host left closed) keep their own."""

import itertools
import os
import signal
import time

import psutil
import pytest
from shared_daemon import shared_circusd
from support import WORKER_CMD, pid_alive, subscribed, wait_for

from circus.events import EventSubscriber

pytestmark = pytest.mark.timeout(90)
PAPA = ["true", "false"]


def config(files: str) -> str:
    """The module's watchers; the files of the tests go to the directory ``files``."""
    w, marks = WORKER_CMD, f"{files}/wid1.log"
    body = f"""
        [watcher:hard]
        cmd = {w} stubborn
        graceful_timeout = 0.5
        autostart = false

        [watcher:w]
        cmd = {w} sleep
        numprocesses = 1
        graceful_timeout = 5
        autostart = false

        [watcher:two]
        cmd = {w} sleep
        numprocesses = 2
        graceful_timeout = 5
        autostart = false

        [watcher:rotate]
        cmd = {w} sleep
        numprocesses = 2
        graceful_timeout = 5
        # a reload waits min_uptime (1 s by default) for its new processes: not what is tested
        min_uptime = 0.2
        autostart = false

        [watcher:once]
        cmd = {w} exit-after 0.2
        respawn = false
        autostart = false

        [watcher:bad]
        cmd = {w} crash
        max_retry = 2
        retry_in = 0.2
        autostart = false

        [watcher:missing]
        cmd = /nonexistent/program
        max_retry = 1
        priority = 10

        [watcher:good]
        cmd = {w} sleep

        [watcher:one]
        cmd = {w} sleep
        singleton = true
        autostart = false

        [watcher:low]
        cmd = {w} sleep
        priority = 1

        [watcher:high]
        cmd = {w} sleep
        priority = 5

        [watcher:hup]
        cmd = {w} record {files}/signals.log
        send_hup = true
        autostart = false

        [watcher:slow]
        cmd = {w} sleep
        numprocesses = 3
        warmup_delay = 0.3
        autostart = false

        [watcher:killed]
        cmd = {w} sleep
        max_retry = 1
        autostart = false

        [watcher:brief]
        cmd = sh -c "if [ $(circus.wid) = 1 ]; then echo x >> {marks}; exit 0; fi; exec sleep 3600"
        numprocesses = 2
        warmup_delay = 0.5
        max_retry = -1
        autostart = false

        [watcher:web]
        cmd = {w} sleep
        sockets = shared
        [socket:shared]
        path = {files}/shared.sock
    """
    for papa in PAPA:
        body += f"""
        [watcher:web-{papa}]
        cmd = {w} sleep $(circus.wid)
        numprocesses = 3
        use_papa = {papa}
        graceful_timeout = 5
        autostart = false

        [watcher:sh-{papa}]
        cmd = sh -c "sleep 3600 & echo $! > {files}/child-{papa}.pid; wait"
        use_papa = {papa}
        graceful_timeout = 5
        autostart = false
    """
    return body


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("lifecycle")
    files = workdir / "files"
    files.mkdir()
    with shared_circusd(workdir, config(str(files))) as shared:
        shared.files = files
        yield shared


@pytest.fixture
def shared(module_daemon):
    """The module's circusd, as it started (checked before the test, put back after)."""
    with module_daemon.test():
        yield module_daemon


@pytest.fixture
def d(shared):
    return shared.daemon


@pytest.mark.parametrize("use_papa", PAPA)
def test_start_respawn_and_stop(d, use_papa):
    name = f"web-{use_papa}"
    d.ok("start", name=name, waiting=True)
    pids = d.pids(name)
    assert len(pids) == 3
    assert d.ok("status", name=name)["status"] == "active"
    with EventSubscriber(d.pubsub, [f"watcher.{name}."], timeout=10) as events:
        wait_for(lambda: subscribed(d, events, name, 5), message="the subscription is live")
        os.kill(pids[0], signal.SIGKILL)
        seen = {}
        for topic, body in events:
            seen.setdefault(topic, body)
            if f"watcher.{name}.spawn" in seen and f"watcher.{name}.reap" in seen:
                break
    assert seen[f"watcher.{name}.reap"]["process_pid"] == pids[0]
    assert seen[f"watcher.{name}.reap"]["exit_code"] == -signal.SIGKILL
    new = wait_for(lambda: len(d.pids(name)) == 3 and d.pids(name), message="respawn")
    assert pids[0] not in new and set(pids[1:]) <= set(new)
    d.ok("stop", name=name, waiting=True)
    assert d.ok("status", name=name)["status"] == "stopped"
    wait_for(lambda: not any(pid_alive(p) for p in new), message="workers gone")
    d.ok("start", name=name, waiting=True)
    assert len(d.pids(name)) == 3


def test_stubborn_process_is_killed_after_graceful_timeout(d):
    d.ok("start", name="hard", waiting=True)
    [pid] = d.pids("hard")
    wait_for(lambda: f"stubborn {pid}" in d.log(), message="worker ready")
    started = time.monotonic()
    d.ok("stop", name="hard", waiting=True)
    assert time.monotonic() - started >= 0.5
    assert not pid_alive(pid)


def test_incr_decr_and_wids(d):
    d.ok("start", name="w", waiting=True)
    assert d.ok("incr", name="w", nb=3, waiting=True)["numprocesses"] == 4
    assert len(d.pids("w")) == 4
    wids = sorted(info["wid"] for info in d.ok("stats", name="w")["info"].values())
    assert wids == [1, 2, 3, 4]
    assert d.ok("decr", name="w", nb=100, waiting=True)["numprocesses"] == 0
    assert d.pids("w") == []
    assert d.ok("incr", name="w", waiting=True)["numprocesses"] == 1
    assert len(d.pids("w")) == 1


def test_set_numprocesses_applies_after_a_decr(d):
    """``set numprocesses`` sets the live target even when the configuration already has that
    count (a decr since changed only the live target): it was ignored, the count stayed."""
    d.ok("start", name="w", waiting=True)
    d.ok("set", name="w", options={"numprocesses": 3}, waiting=True)
    wait_for(lambda: len(d.pids("w")) == 3, message="3 processes")
    assert d.ok("decr", name="w", nb=2, waiting=True)["numprocesses"] == 1
    d.ok("set", name="w", options={"numprocesses": 3}, waiting=True)
    assert d.ok("numprocesses", name="w")["numprocesses"] == 3
    wait_for(lambda: len(d.pids("w")) == 3, message="3 processes again")


def test_restore_numprocesses_after_an_incr_not_yet_spawned(d):
    """The fixtures of a shared circusd put its watcher back with support.restore_numprocesses;
    right after an incr without --waiting the live count is still the old one: the helper
    compares the target (it compared the live count, left 3 processes behind, and the next
    test of the module found 3 where it expected 2) and waits for the scalings under way."""
    from support import restore_numprocesses

    d.ok("start", name="two", waiting=True)
    for _ in range(5):
        d.ok("incr", name="two")  # replies before the third process is spawned
        restore_numprocesses(d, "two", 2)
        assert d.ok("get", name="two", keys=["numprocesses"])["options"]["numprocesses"] == 2
        assert len(d.pids("two")) == 2


def test_reload_replaces_processes_and_rotates_wids(d):
    d.ok("start", name="rotate", waiting=True)

    def wids():
        return sorted(info["wid"] for info in d.ok("stats", name="rotate")["info"].values())

    before = set(d.pids("rotate"))
    assert wids() == [1, 2]
    d.ok("reload", name="rotate", waiting=True)
    after = set(d.pids("rotate"))
    assert len(after) == 2 and not (before & after)
    assert wids() == [3, 4]
    d.ok("reload", name="rotate", waiting=True, sequential=True)
    assert not (after & set(d.pids("rotate")))
    assert len(d.pids("rotate")) == 2


def test_respawn_false_lets_the_watcher_stop(d):
    d.ok("start", name="once", waiting=True)
    wait_for(lambda: d.ok("status", name="once")["status"] == "stopped", message="stopped")
    assert d.ok("numprocesses", name="once")["numprocesses"] == 0
    d.ok("start", name="once", waiting=True)
    assert d.ok("numprocesses", name="once")["numprocesses"] in (0, 1)


def test_crash_loop_gives_up_after_max_retry(shared):
    d = shared.daemon
    d.call("start", name="bad", waiting=True)
    wait_for(
        lambda: d.ok("status", name="bad")["status"] == "stopped" and "giving up" in shared.log(),
        timeout=30,
        message="watcher gave up",
    )
    assert "bad: " in "".join(line for line in shared.log().splitlines() if "giving up" in line)


def test_missing_executable_is_reported_and_others_run(d):
    # both started with circusd: missing (a higher priority) gave up, good runs
    assert d.ok("status", name="missing")["status"] == "stopped"
    assert len(d.pids("good")) == 1
    assert "/nonexistent/program" in d.log()


def test_singleton_ignores_incr(d):
    d.ok("start", name="one", waiting=True)
    d.ok("incr", name="one", nb=2, waiting=True)
    assert len(d.pids("one")) == 1


def test_priority_orders_start(d):
    low, high = d.pids("low")[0], d.pids("high")[0]
    assert psutil.Process(high).create_time() <= psutil.Process(low).create_time()


@pytest.mark.parametrize("use_papa", PAPA)
def test_stop_leaves_no_orphans_in_the_process_group(shared, use_papa):
    d, name = shared.daemon, f"sh-{use_papa}"
    marker = shared.files / f"child-{use_papa}.pid"
    marker.unlink(missing_ok=True)
    d.ok("start", name=name, waiting=True)
    child = int(
        wait_for(lambda: marker.exists() and marker.read_text().strip(), message="child started")
    )
    assert pid_alive(child)
    d.ok("stop", name=name, waiting=True)
    wait_for(lambda: not pid_alive(child), message="orphaned sleep killed")


def test_send_hup_reload_signals_instead_of_replacing(shared):
    d, record = shared.daemon, shared.files / "signals.log"
    d.ok("start", name="hup", waiting=True)
    [pid] = d.pids("hup")
    wait_for(lambda: record.exists() and f"ready {pid}" in record.read_text(), message="ready")
    d.ok("reload", name="hup", waiting=True)
    wait_for(lambda: f"SIGHUP {pid}" in record.read_text(), message="SIGHUP received")
    assert d.pids("hup") == [pid]


def test_warmup_delay_spaces_spawns(d):
    d.ok("start", name="slow", waiting=True)
    starts = sorted(psutil.Process(p).create_time() for p in d.pids("slow"))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 3 and all(gap >= 0.25 for gap in gaps), gaps


def test_workers_killed_quickly_from_outside_are_always_respawned(d):
    """SIGKILL from an operator is not a crash loop: no back-off, no giving up."""
    d.ok("start", name="killed", waiting=True)
    [pid] = d.pids("killed")
    for _ in range(4):
        os.kill(pid, signal.SIGKILL)
        [pid] = wait_for(
            lambda old=pid: (now := d.pids("killed")) and now != [old] and now,
            timeout=5,
            message="respawned at once",
        )
    assert d.ok("status", name="killed")["status"] == "active"


def test_exits_during_start_are_respawned_after_it(shared):
    """A process that exits while its watcher is still starting (warmup_delay) is replaced
    once the start is over, even if no other exit happens later."""
    d, marks = shared.daemon, shared.files / "wid1.log"
    marks.unlink(missing_ok=True)
    d.ok("start", name="brief", waiting=True)
    wait_for(
        lambda: marks.exists() and len(marks.read_text().split()) >= 2,
        timeout=20,
        message="wid 1 spawned again after the start",
    )
    assert d.ok("status", name="brief")["status"] == "active"


def test_circusd_does_not_load_openssl(d):
    """circusd uses no TLS: asyncio comes without ssl and fingerprints without hashlib's
    OpenSSL (circus.util.no_openssl), saving ~4.6 MB of its memory. Sockets passed from the
    kernel (asyncio's sock_* calls) do not load it either."""
    assert len(d.pids("web")) == 1  # it uses the kernel's socket "shared"
    d.ok("listsockets")
    with open(f"/proc/{d.proc.pid}/maps") as handle:
        loaded = {line.split()[-1].rsplit("/", 1)[-1] for line in handle if "/" in line}
    assert not {name for name in loaded if "libssl" in name or "libcrypto" in name}, loaded


# --- tests of a whole configuration: a circusd of their own ---------------------------------


def test_autostart_false(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:manual]
        cmd = {worker_cmd} sleep
        autostart = false

        [watcher:auto]
        cmd = {worker_cmd} sleep
    """)
    assert d.ok("status", name="manual")["status"] == "stopped"
    d.ok("stop", waiting=True)
    d.ok("start", waiting=True)  # without a name: only autostart watchers (as the original)
    assert d.pids("manual") == [] and len(d.pids("auto")) == 1
    d.ok("start", name="manual", waiting=True)
    assert len(d.pids("manual")) == 1


def test_the_local_host_is_opened_on_first_use(circusd, worker_cmd, tmp_path):
    """A configuration whose watchers all run in the kernel does not open the local host at
    start-up (it is imported on first use); a use_papa = false socket and a use_papa = false
    watcher added later still get it."""
    d = circusd(f"""
        [watcher:web]
        cmd = {worker_cmd} sleep
        [socket:local]
        path = {tmp_path}/local.sock
        use_papa = false
    """)
    assert [s["name"] for s in d.ok("listsockets")["sockets"]] == ["local"]
    d.ok("add", name="direct", cmd=f"{worker_cmd} sleep", start=True,
         options={"use_papa": False})  # fmt: skip
    wait_for(lambda: len(d.pids("direct")) == 1, message="the added local watcher runs")
    [pid] = d.pids("direct")
    with open(f"/proc/{pid}/stat") as handle:  # a direct child of circusd, not of the kernel
        assert int(handle.read().rsplit(")", 1)[1].split()[1]) == d.proc.pid
