"""The design's reason to exist: circusd can die and come back while workers keep serving."""

import pytest
from support import Load, free_port, pid_alive, wait_for

pytestmark = pytest.mark.timeout(120)


def served_lines(path) -> list[tuple[int, int]]:
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    return [(int(p), int(n)) for _, p, n in (line.split() for line in lines if line)]


def test_kill9_circusd_under_load_loses_nothing(circusd, worker_cmd, tmp_path):
    port = free_port()
    out = tmp_path / "served.log"
    d = circusd(f"""
        [socket:web]
        host = 127.0.0.1
        port = {port}

        [watcher:web]
        cmd = {worker_cmd} http $(circus.sockets.web)
        use_sockets = true
        numprocesses = 2
        stdout_stream.class = FileStream
        stdout_stream.filename = {out}
    """)
    pids = sorted(d.pids("web"))
    load = Load(port)
    load.start()
    try:
        wait_for(lambda: load.ok > 50, message="load running")
        d.kill9()
        wait_for(lambda: load.ok > 150, message="serving while circusd is dead")
        d.start()
        wait_for(lambda: load.ok > 300, message="serving after restart")
    finally:
        load.stop()
    assert load.failures == []
    assert sorted(d.pids("web")) == pids
    assert all(pid_alive(p) for p in pids)
    assert set(load.pids) == set(pids)
    # every request printed one line; every line reaches the stream exactly once
    lines = wait_for(
        lambda: (len(served_lines(out)) >= load.ok) and served_lines(out),
        timeout=20,
        message="all lines in the stream",
    )
    assert len(lines) == load.ok
    assert len(set(lines)) == len(lines)
    for pid in pids:
        counts = sorted(n for p, n in lines if p == pid)
        assert counts == list(range(1, len(counts) + 1))


def test_quit_keeps_workers_and_stop_workers_ends_them(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:w]
        cmd = {worker_cmd} sleep
        numprocesses = 2
    """)
    pids = d.pids("w")
    d.ok("quit")
    d.proc.wait(timeout=20)
    assert all(pid_alive(p) for p in pids)
    d.start()
    assert sorted(d.pids("w")) == sorted(pids)
    kernel = d.kernel_pid()
    d.ok("quit", stop_workers=True)
    d.proc.wait(timeout=30)
    wait_for(lambda: not any(pid_alive(p) for p in pids), message="workers stopped")
    wait_for(lambda: not pid_alive(kernel), message="the idle kernel exited")
    assert d.kernel_pid() is None  # and no new kernel was started while quitting


def test_restart_converges_to_a_changed_config(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:keep]
        cmd = {worker_cmd} sleep
        numprocesses = 2

        [watcher:gone]
        cmd = {worker_cmd} sleep
    """)
    keep, gone = d.pids("keep"), d.pids("gone")
    d.stop()
    d.write_config(f"""
        [watcher:keep]
        cmd = {worker_cmd} sleep
        numprocesses = 3
    """)
    d.start()
    now = d.pids("keep")
    assert set(keep) <= set(now) and len(now) == 3
    wait_for(lambda: not pid_alive(gone[0]), message="removed watcher's worker stopped")


def test_exits_while_circusd_is_away_are_respawned(circusd, worker_cmd):
    d = circusd(f"""
        [watcher:w]
        cmd = {worker_cmd} sleep
        numprocesses = 2
    """)
    pids = d.pids("w")
    d.kill9()
    import os
    import signal

    os.kill(pids[0], signal.SIGKILL)
    wait_for(lambda: not pid_alive(pids[0]), message="worker dead")
    d.start()
    now = wait_for(lambda: len(d.pids("w")) == 2 and d.pids("w"), message="respawned")
    assert pids[1] in now and pids[0] not in now
    log = d.log()  # the dead one is reported as such, never as "adopted running"
    assert f"process {pids[0]} (wid 1) exited while circusd was away" in log or (
        f"process {pids[0]} (wid 2) exited while circusd was away" in log
    )
    exit_lines = [line for line in log.splitlines() if f" {pids[0]} " in line and "exited" in line]
    assert len(exit_lines) == 1, exit_lines  # its exit is logged once
    assert f"adopted running process {pids[0]} " not in log
    assert f"adopted running process {pids[1]} " in log


def test_circusd_recovers_from_a_killed_kernel(circusd, worker_cmd):
    """The kernel is not supposed to die; if it does, circusd starts a new one and respawns."""
    import os
    import signal

    d = circusd(f"""
        [watcher:w]
        cmd = {worker_cmd} sleep
        numprocesses = 2
    """)
    pids = d.pids("w")
    kernel = d.kernel_pid()
    os.kill(kernel, signal.SIGKILL)
    new = wait_for(
        lambda: len(d.pids("w")) == 2 and not set(d.pids("w")) & set(pids) and d.pids("w"),
        timeout=30,
        message="respawned in a new kernel",
    )
    assert d.kernel_pid() != kernel
    assert all(pid_alive(p) for p in new)
    wait_for(lambda: not any(pid_alive(p) for p in pids), message="orphans of the old kernel")
