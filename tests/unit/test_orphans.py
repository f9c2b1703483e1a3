"""The identity checks before an orphan of a lost kernel is killed (circus.orphans)."""

import asyncio
import os
import resource
import subprocess

import psutil
import pytest
from support import pid_alive

from circus import orphans
from circus.worker_record import RecordedWorker

pytestmark = pytest.mark.timeout(30)

SLEEPER = ["sleep", "60"]  # any process will do: coreutils' sleep costs ~1 ms of CPU, python ~25


@pytest.fixture
def sleeper():
    """A process of ours, group leader (own session) unless asked otherwise."""
    started = []

    def start(leader: bool = True) -> subprocess.Popen:
        proc = subprocess.Popen(SLEEPER, start_new_session=leader)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait(timeout=10)


def recorded(proc: subprocess.Popen, shift: float = 0.0) -> RecordedWorker:
    return RecordedWorker("circus.w.1", proc.pid, psutil.Process(proc.pid).create_time() + shift)


def kill_and_wait(workers) -> bool:
    return asyncio.run(orphans.wait_exited(orphans.kill_orphans(workers), timeout=5))


def test_a_verified_orphan_is_killed_with_its_group(sleeper):
    proc = sleeper()
    assert kill_and_wait([recorded(proc)])
    assert proc.wait(timeout=5) == -9


def test_a_recycled_pid_is_never_killed(sleeper):
    proc = sleeper()
    kill_and_wait([recorded(proc, shift=-10.0)])  # same pid, started at another time
    assert proc.poll() is None and pid_alive(proc.pid)


def test_a_process_that_does_not_lead_its_group_is_not_killed(sleeper):
    proc = sleeper(leader=False)  # in our process group: killpg would hit the test itself
    kill_and_wait([recorded(proc)])
    assert proc.poll() is None


def test_a_gone_pid_is_skipped(sleeper):
    proc = sleeper()
    worker = recorded(proc)
    proc.kill()
    proc.wait(timeout=5)
    assert orphans.kill_orphans([worker]) == []


def test_wait_exited_gives_up_after_the_timeout(sleeper):
    proc = sleeper()
    pidfd = os.pidfd_open(proc.pid)
    assert not asyncio.run(orphans.wait_exited([pidfd], timeout=0.05))
    assert proc.poll() is None


def test_more_orphans_than_the_soft_fd_limit_are_all_killed(sleeper):
    """One pidfd per orphan is held at once: with 10,000 orphans and the usual soft limit of
    1024, pidfd_open failed with EMFILE and the recovery of the lost kernel crashed."""
    procs = [sleeper() for _ in range(40)]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = len(os.listdir("/proc/self/fd")) + 10  # room for 10 pidfds, not 40
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        assert kill_and_wait([recorded(proc) for proc in procs])
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert [proc.wait(timeout=5) for proc in procs] == [-9] * 40
