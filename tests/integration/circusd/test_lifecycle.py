"""circusd with real processes: start, respawn, stop, reload, incr/decr, wids, retries."""

import itertools
import os
import signal
import time

import pytest
from support import pid_alive, subscribed, wait_for

from circus.events import EventSubscriber

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize("use_papa", ["true", "false"])
def test_start_respawn_and_stop(circusd, worker_cmd, use_papa):
    d = circusd(f"""
        [watcher:web]
        cmd = {worker_cmd} sleep $(circus.wid)
        numprocesses = 3
        use_papa = {use_papa}
        graceful_timeout = 5
    """)
    pids = d.pids("web")
    assert len(pids) == 3
    assert d.ok("status", name="web")["status"] == "active"
    with EventSubscriber(d.pubsub, ["watcher.web."], timeout=10) as events:
        wait_for(lambda: subscribed(d, events, "web", 5), message="the subscription is live")
        os.kill(pids[0], signal.SIGKILL)
        seen = {}
        for topic, body in events:
            seen.setdefault(topic, body)
            if "watcher.web.spawn" in seen and "watcher.web.reap" in seen:
                break
    assert seen["watcher.web.reap"]["process_pid"] == pids[0]
    assert seen["watcher.web.reap"]["exit_code"] == -signal.SIGKILL
    new = wait_for(lambda: len(d.pids("web")) == 3 and d.pids("web"), message="respawn")
    assert pids[0] not in new and set(pids[1:]) <= set(new)
    d.ok("stop", name="web", waiting=True)
    assert d.ok("status", name="web")["status"] == "stopped"
    wait_for(lambda: not any(pid_alive(p) for p in new), message="workers gone")
    d.ok("start", name="web", waiting=True)
    assert len(d.pids("web")) == 3


def test_stubborn_process_is_killed_after_graceful_timeout(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:hard]
        cmd = {worker_cmd} stubborn
        graceful_timeout = 0.5
    """)
    [pid] = d.pids("hard")
    wait_for(lambda: f"stubborn {pid}" in d.log(), message="worker ready")
    started = time.monotonic()
    d.ok("stop", name="hard", waiting=True)
    assert time.monotonic() - started >= 0.5
    assert not pid_alive(pid)


def test_incr_decr_and_wids(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:w]
        cmd = {worker_cmd} sleep
        numprocesses = 1
        graceful_timeout = 5
    """)
    assert d.ok("incr", name="w", nb=3, waiting=True)["numprocesses"] == 4
    assert len(d.pids("w")) == 4
    wids = sorted(info["wid"] for info in d.ok("stats", name="w")["info"].values())
    assert wids == [1, 2, 3, 4]
    assert d.ok("decr", name="w", nb=100, waiting=True)["numprocesses"] == 0
    assert d.pids("w") == []
    assert d.ok("incr", name="w", waiting=True)["numprocesses"] == 1
    assert len(d.pids("w")) == 1


def test_restore_numprocesses_after_an_incr_not_yet_spawned(circusd, worker_cmd):
    """The fixtures of a shared circusd put its watcher back with support.restore_numprocesses;
    right after an incr without --waiting the live count is still the old one: the helper
    compares the target (it compared the live count, left 3 processes behind, and the next
    test of the module found 3 where it expected 2) and waits for the scalings under way."""
    from support import restore_numprocesses

    d = circusd(f"""
        [watcher:w]
        cmd = {worker_cmd} sleep
        numprocesses = 2
        graceful_timeout = 5
    """)
    for _ in range(5):
        d.ok("incr", name="w")  # replies before the third process is spawned
        restore_numprocesses(d, "w", 2)
        assert d.ok("get", name="w", keys=["numprocesses"])["options"]["numprocesses"] == 2
        assert len(d.pids("w")) == 2


def test_reload_replaces_processes_and_rotates_wids(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:w]
        cmd = {worker_cmd} sleep
        numprocesses = 2
        graceful_timeout = 5
    """)

    def wids():
        return sorted(info["wid"] for info in d.ok("stats", name="w")["info"].values())

    before = set(d.pids("w"))
    assert wids() == [1, 2]
    d.ok("reload", name="w", waiting=True)
    after = set(d.pids("w"))
    assert len(after) == 2 and not (before & after)
    assert wids() == [3, 4]
    d.ok("reload", name="w", waiting=True, sequential=True)
    assert not (after & set(d.pids("w")))
    assert len(d.pids("w")) == 2


def test_respawn_false_lets_the_watcher_stop(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:once]
        cmd = {worker_cmd} exit-after 0.2
        respawn = false
    """)
    wait_for(lambda: d.ok("status", name="once")["status"] == "stopped", message="stopped")
    assert d.ok("numprocesses", name="once")["numprocesses"] == 0
    d.ok("start", name="once", waiting=True)
    assert d.ok("numprocesses", name="once")["numprocesses"] in (0, 1)


def test_crash_loop_gives_up_after_max_retry(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:bad]
        cmd = {worker_cmd} crash
        max_retry = 2
        retry_in = 0.2
    """)
    wait_for(
        lambda: d.ok("status", name="bad")["status"] == "stopped",
        timeout=30,
        message="watcher gave up",
    )
    assert "giving up" in d.log()


def test_missing_executable_is_reported_and_others_run(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:missing]
        cmd = /nonexistent/program
        max_retry = 1
        priority = 10

        [watcher:good]
        cmd = {worker_cmd} sleep
    """)
    wait_for(
        lambda: d.ok("status", name="missing")["status"] == "stopped",
        timeout=30,
        message="missing gave up",
    )
    assert len(d.pids("good")) == 1
    assert "/nonexistent/program" in d.log()


def test_singleton_ignores_incr(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:one]
        cmd = {worker_cmd} sleep
        singleton = true
    """)
    d.ok("incr", name="one", nb=2, waiting=True)
    assert len(d.pids("one")) == 1


def test_priority_orders_start(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:low]
        cmd = {worker_cmd} sleep
        priority = 1

        [watcher:high]
        cmd = {worker_cmd} sleep
        priority = 5
    """)
    low, high = d.pids("low")[0], d.pids("high")[0]
    import psutil

    assert psutil.Process(high).create_time() <= psutil.Process(low).create_time()


@pytest.mark.parametrize("use_papa", ["true", "false"])
def test_stop_leaves_no_orphans_in_the_process_group(circusd, use_papa, tmp_path):
    marker = tmp_path / "child.pid"
    d = circusd(f"""
        [watcher:sh]
        cmd = sh -c "sleep 3600 & echo $! > {marker}; wait"
        use_papa = {use_papa}
        graceful_timeout = 5
    """)
    child = int(
        wait_for(lambda: marker.exists() and marker.read_text().strip(), message="child started")
    )
    assert pid_alive(child)
    d.ok("stop", name="sh", waiting=True)
    wait_for(lambda: not pid_alive(child), message="orphaned sleep killed")


def test_send_hup_reload_signals_instead_of_replacing(circusd, worker_cmd, tmp_path):
    record = tmp_path / "signals.log"
    d = circusd(f"""
        [watcher:hup]
        cmd = {worker_cmd} record {record}
        send_hup = true
    """)
    [pid] = d.pids("hup")
    wait_for(lambda: record.exists() and f"ready {pid}" in record.read_text(), message="ready")
    d.ok("reload", name="hup", waiting=True)
    wait_for(lambda: f"SIGHUP {pid}" in record.read_text(), message="SIGHUP received")
    assert d.pids("hup") == [pid]


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


def test_warmup_delay_spaces_spawns(circusd, worker_cmd):
    import psutil

    d = circusd(f"""
        [watcher:slow]
        cmd = {worker_cmd} sleep
        numprocesses = 3
        warmup_delay = 0.3
    """)
    starts = sorted(psutil.Process(p).create_time() for p in d.pids("slow"))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 0.25 for gap in gaps), gaps


def test_workers_killed_quickly_from_outside_are_always_respawned(circusd, worker_cmd):
    """SIGKILL from an operator is not a crash loop: no back-off, no giving up."""
    d = circusd(f"""
        [watcher:w]
        cmd = {worker_cmd} sleep
        max_retry = 1
    """)
    [pid] = d.pids("w")
    for _ in range(4):
        os.kill(pid, signal.SIGKILL)
        [pid] = wait_for(
            lambda old=pid: (now := d.pids("w")) and now != [old] and now,
            timeout=5,
            message="respawned at once",
        )
    assert d.ok("status", name="w")["status"] == "active"


def test_exits_during_start_are_respawned_after_it(circusd, tmp_path):
    """A process that exits while its watcher is still starting (warmup_delay) is replaced
    once the start is over, even if no other exit happens later."""
    marks = tmp_path / "wid1.log"
    d = circusd(f"""
        [watcher:brief]
        cmd = sh -c "if [ $(circus.wid) = 1 ]; then echo x >> {marks}; exit 0; fi; exec sleep 3600"
        numprocesses = 2
        warmup_delay = 0.5
        max_retry = -1
    """)
    wait_for(
        lambda: marks.exists() and len(marks.read_text().split()) >= 2,
        timeout=20,
        message="wid 1 spawned again after the start",
    )
    assert d.ok("status", name="brief")["status"] == "active"


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


def test_circusd_does_not_load_openssl(circusd, worker_cmd, tmp_path):
    """circusd uses no TLS: asyncio comes without ssl and fingerprints without hashlib's
    OpenSSL (circus.util.no_openssl), saving ~4.6 MB of its memory. Sockets passed from the
    kernel (asyncio's sock_* calls) do not load it either."""
    d = circusd(f"""
        [watcher:web]
        cmd = {worker_cmd} sleep
        sockets = shared
        [socket:shared]
        path = {tmp_path}/shared.sock
    """)
    assert len(d.pids("web")) == 1
    d.ok("listsockets")
    with open(f"/proc/{d.proc.pid}/maps") as handle:
        loaded = {line.split()[-1].rsplit("/", 1)[-1] for line in handle if "/" in line}
    assert not {name for name in loaded if "libssl" in name or "libcrypto" in name}, loaded
