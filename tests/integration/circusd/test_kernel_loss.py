"""papa-kernel is killed while its workers hold the listening sockets (issue 7.1).

The workers outlive the kernel (orphans) and keep the port bound. circusd must find them
without the kernel, kill them (only verified ones), bind again and serve, and ``status`` must
say what is going on meanwhile. While circusd runs, it also keeps the listening socket itself
alive (it holds a duplicate and hands it to the next kernel), so no connection is refused.
Workers write to /dev/null (``close_child_stdout``), except in the test of workers that log
each request through the kernel: those fail every request once the kernel's pipe is broken, so
circusd kills the orphans as soon as the kernel is known dead.
"""

import os
import signal
import time

import pytest
from support import (
    DeathClock,
    Load,
    free_port,
    http_web_config,
    pid_alive,
    start_boottime,
    subreaper,
    wait_for,
)

pytestmark = pytest.mark.timeout(120)

#: Bound on the service outage asserted here (the goal is 1 s, measured in
#: docs/benchmarks.md; tests share two cores with other suites, hence the slack).
OUTAGE_BOUND = 3.0


@pytest.fixture
def reaper():
    with subreaper():
        yield


def serving(circusd, ok: int = 20, interval: float = 0.005, logging: bool = False):
    """A circusd serving ``http_web_config`` under load: (daemon, worker pids, kernel, load)."""
    port = free_port()
    d = circusd(http_web_config(port, logging=logging))
    old, kernel = d.pids("web"), d.kernel_pid()
    load = Load(port, interval)
    load.start()
    wait_for(lambda: load.ok > ok, message="load running")
    return d, old, kernel, load


def served_by_new_workers(d, load: Load, new: list[int], since: float) -> None:
    try:
        wait_for(lambda: load.served_by(new), timeout=20, message="served by a new worker")
        served = load.ok
        wait_for(lambda: load.ok > served + 50, message="serving on")
    except AssertionError as exc:  # seen once in a full run at load ~20: say what was seen
        listed = d.try_call("list", name="web").get("pids")
        raise AssertionError(
            f"{exc}; new workers {new}, listed now {listed}; {load.describe(since)}; "
            f"circusd's log:\n{d.log()[-3000:]}"
        ) from None


def kill_kernel_until_served_by_new_workers(d, old: list[int], kernel: int, load: Load) -> float:
    """SIGKILL the kernel, wait until new workers serve; returns the time of the kill."""
    killed_at = time.monotonic()
    os.kill(kernel, signal.SIGKILL)
    new = wait_for(
        lambda: (
            len(pids := d.try_call("list", name="web").get("pids", [])) == 2
            and not set(pids) & set(old)
            and pids
        ),
        timeout=20,
        message="two new workers listed",
    )
    served_by_new_workers(d, load, new, killed_at)
    return killed_at


def outage(load: Load, since: float) -> float:
    """Seconds from ``since`` to the last failed request (0 if none failed)."""
    return max((t - since for t in load.failure_times if t >= since), default=0.0)


def test_kernel_killed_under_load_no_connection_refused(reaper, circusd):
    """circusd hands its duplicates of the listening sockets to the new kernel: the address
    never closes, so requests fail only if an orphan is killed while answering one (54 did
    without the hand-over)."""
    d, old, kernel, load = serving(circusd, interval=0)
    try:
        killed_at = kill_kernel_until_served_by_new_workers(d, old, kernel, load)
    finally:
        load.stop()
    # One request at a time: only one an orphan is answering when killed can fail (two if
    # the client's retry lands on the other orphan in the microseconds before its kill).
    assert len(load.failures) <= 2, load.failures[:5]
    assert outage(load, killed_at) < OUTAGE_BOUND
    assert not any(pid_alive(p) for p in old), "the orphans of the lost kernel were killed"
    assert d.kernel_pid() not in (None, kernel)
    assert d.call("status", name="web")["status"] == "active"
    assert "retrying" not in d.log()


def test_kernel_killed_workers_logging_through_it_are_killed_before_a_new_kernel(reaper, circusd):
    """Workers that log each request to stderr through the kernel (like the demo's
    http.server): once the kernel is dead their pipe is broken and they fail every request.
    circusd kills them as soon as the kernel is known dead, before starting a new one; the
    connections meanwhile wait in the queue of circusd's duplicate of the socket. (Killed only
    after the new kernel was up, they reset 21 requests in 0.43 s under a 10 ms loop.)"""
    d, old, kernel, load = serving(circusd, interval=0.005, logging=True)
    deaths = DeathClock(old)
    try:
        killed_at = kill_kernel_until_served_by_new_workers(d, old, kernel, load)
    finally:
        load.stop()
    deaths.wait()
    # Only the orphans fail requests, from the kernel's death to theirs; the connections that
    # come after wait for the new kernel's workers. So: the orphans were dead before the new
    # kernel started, and no request failed after them (a request an orphan took before its
    # death fails when the client reads the reset: soon). A count of failures would also
    # measure the machine: at 200 requests a second, 15 ms of a loaded circusd fail 3.
    new_kernel_start = start_boottime(d.kernel_pid())
    tick = 1 / os.sysconf("SC_CLK_TCK")
    seen = [
        (round(t - killed_at, 3), f) for t, f in zip(load.failure_times, load.failures, strict=True)
    ]
    assert max(deaths.died_boottime.values()) < new_kernel_start + tick, (
        "orphans killed after the new kernel started",
        max(deaths.died_boottime.values()) - new_kernel_start,
    )
    orphans_dead = max(deaths.died.values())
    assert all(killed_at <= t <= orphans_dead + 0.5 for t in load.failure_times), (
        orphans_dead - killed_at,
        seen,
    )
    assert outage(load, killed_at) < OUTAGE_BOUND
    assert not any(pid_alive(p) for p in old)
    assert d.call("status", name="web")["status"] == "active"


def test_status_says_recovering_while_the_kernel_cannot_come_back(reaper, circusd):
    """The kernel cannot be started again for a while: its orphans are killed all the same
    (the kernel is known dead), ``status`` says ``recovering``, new connections wait in the
    queue of circusd's duplicate, and once the kernel is back they are served."""
    d, old, kernel, load = serving(circusd)
    # The running kernel keeps its unlinked socket; a directory in its place makes every
    # start of a new kernel fail until it is removed.
    os.unlink(d.papa)
    os.mkdir(d.papa)
    try:
        os.kill(kernel, signal.SIGKILL)
        wait_for(
            lambda: d.try_call("status", name="web").get("status") == "recovering",
            message="status recovering",
        )
        wait_for(lambda: not any(pid_alive(p) for p in old), message="the orphans killed")
        assert d.try_call("status").get("statuses") == {"web": "recovering"}
        refused = len([f for f in load.failures if "Refused" in f])
        os.rmdir(d.papa)
        wait_for(
            lambda: (
                d.try_call("status", name="web").get("status") == "active"
                and not set(d.pids("web")) & set(old)
            ),
            timeout=20,
            message="recovered",
        )
        new = wait_for(lambda: len(d.pids("web")) == 2 and d.pids("web"), message="respawned")
        wait_for(lambda: load.served_by(new), timeout=20, message="served by a new worker")
    finally:
        load.stop()
    assert refused == 0, "the address stayed open while no kernel could come back"


def test_circusd_and_kernel_killed_next_circusd_kills_orphans_and_serves(reaper, circusd):
    d, old, kernel, load = serving(circusd)
    try:
        d.kill9()
        os.kill(kernel, signal.SIGKILL)
        ok = load.ok
        wait_for(lambda: load.ok > ok + 20, message="orphans serving, known to nobody")
        started_at = time.monotonic()
        d.start()
        new = wait_for(lambda: len(d.pids("web")) == 2 and d.pids("web"), message="respawned")
        assert not set(new) & set(old)
        served_by_new_workers(d, load, new, started_at)
    finally:
        load.stop()
    assert outage(load, started_at) < OUTAGE_BOUND, (len(load.failures), load.failures[:5])
    assert not any(pid_alive(p) for p in old), "the orphans were found and killed"
    assert d.call("status", name="web")["status"] == "active"


def test_removed_sockets_are_closed_with_circusd_s_duplicate(circusd, worker_cmd):
    """circusd's duplicate must not keep a removed socket's port bound."""
    import socket

    port = free_port()
    d = circusd(http_web_config(port))
    d.write_config(f"""
        [watcher:other]
        cmd = {worker_cmd} sleep
    """)
    d.ok("reloadconfig")

    def port_free() -> bool:
        try:
            socket.create_server(("127.0.0.1", port)).close()
        except OSError:
            return False
        return True

    wait_for(port_free, message="the removed socket's port free again")
