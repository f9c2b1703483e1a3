"""The worker record and the identity checks before an orphan is killed (circus.orphans)."""

import asyncio
import os
import subprocess
import sys

import psutil
import pytest
from support import pid_alive

from circus import orphans
from circus.orphans import RecordedWorker

pytestmark = pytest.mark.timeout(30)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


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


def test_the_record_round_trips_and_is_private(tmp_path):
    path = str(tmp_path / "papa.sock.workers")
    workers = [RecordedWorker("circus.web.1", 123, 1700000000.25)]
    orphans.save_record(path, workers)
    assert orphans.load_record(path) == workers
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path) == ["papa.sock.workers"]  # no temporary file left


def test_no_record_is_an_empty_one(tmp_path):
    assert orphans.load_record(str(tmp_path / "missing")) == []


@pytest.mark.parametrize(
    "plant",
    [
        lambda p: (p.write_text('{"version": 1, "workers": []}'), p.chmod(0o666)),
        lambda p: p.symlink_to(p.parent / "elsewhere"),
        lambda p: p.write_text("not json"),
        lambda p: p.write_text('{"version": 99, "workers": []}'),
        lambda p: p.mkdir(),
    ],
    ids=["world-writable", "symlink", "garbage", "other-version", "directory"],
)
def test_an_untrusted_or_foreign_record_is_ignored(tmp_path, caplog, plant):
    (tmp_path / "elsewhere").write_text('{"version": 1, "workers": [["circus.x.1", 1, 0]]}')
    path = tmp_path / "papa.sock.workers"
    plant(path)
    assert orphans.load_record(str(path)) == []
    assert "worker record" in caplog.text and "ignored" in caplog.text


def test_records_owned_by_another_user_are_ignored(tmp_path, caplog):
    if os.geteuid() != 0:
        pytest.skip("needs root to plant a file owned by someone else")
    path = tmp_path / "papa.sock.workers"
    path.write_text('{"version": 1, "workers": [["circus.x.1", 1, 0]]}')
    path.chmod(0o600)
    os.chown(path, 65534, 65534)
    assert orphans.load_record(str(path)) == []
    assert "owned by uid 65534" in caplog.text


def test_wait_exited_gives_up_after_the_timeout(sleeper):
    proc = sleeper()
    pidfd = os.pidfd_open(proc.pid)
    assert not asyncio.run(orphans.wait_exited([pidfd], timeout=0.05))
    assert proc.poll() is None
