"""A failing output stream (issue 7 item 4): a full disk (/dev/full) under load.

The stream's file is a symlink to /dev/full (every write fails with ENOSPC, a real full disk);
WatchedFileStream reopens its path when the file behind it changes, so replacing the symlink
with a regular file is the disk getting room again. Asserted: the log has one line when the
stream starts failing and one when it works again (with counts), no traceback per chunk; the
worker never blocks; what the stream could not write is not acknowledged, stays in the host's
bounded buffer and is written, in order and once, when the stream works again; beyond the
buffer the oldest output is dropped and the drop is counted in the log.

The tests share one circusd (shared_daemon.py): each starts its watcher of the module's config
(``autostart = false``) and reads the log written since it started.
"""

import os
import re

import pytest
from shared_daemon import shared_circusd
from support import WORKER_CMD, pid_alive, wait_for

pytestmark = pytest.mark.timeout(90)

LINE = 8  # bytes per line of the worker's "count" mode


def expected(total: int) -> bytes:
    return "".join(f"{i:07d}\n" for i in range(total)).encode()


def read(path) -> bytes:
    if os.path.islink(path):
        return b""  # still /dev/full (reading it gives endless zeros)
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def full_disk_link(link):
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink("/dev/full", link)
    return link


PAPA = ["true", "false"]
#: watcher name (without -papa) -> (count arguments, more options); each test starts its own
WATCHERS = {
    "chatty": ("{total} 100 0.02", ""),  # 3000 lines: 24 kB over ~0.6 s, in 30 writes
    "flood": ("{total} 5000 0", ""),  # 500_000 lines: 4 MB while the disk is full
    "held": ("{total} 5000 0", "graceful_timeout = 2"),  # 300_000 lines: 2.4 MB
}
TOTAL = {"chatty": 3000, "flood": 500_000, "held": 300_000}


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory):
    files = tmp_path_factory.mktemp("failing_stream")
    body = ""
    for name, (count, extra) in WATCHERS.items():
        for papa in PAPA:
            watcher = f"{name}-{papa}"
            link = full_disk_link(files / f"{watcher}.log")
            done = files / f"{watcher}.done"
            body += f"""
                [watcher:{watcher}]
                cmd = {WORKER_CMD} count {count.format(total=TOTAL[name])} {done}
                use_papa = {papa}
                autostart = false
                {extra}
                stdout_stream.class = WatchedFileStream
                stdout_stream.filename = {link}
            """
    with shared_circusd(files / "d", body) as shared:
        shared.files = files
        yield shared


@pytest.fixture
def started(module_daemon):
    """``started(name)``: the module's circusd (checked before, put back after) with watcher
    ``name`` started on a full disk; returns (daemon, link, done file)."""
    with module_daemon.test() as d:

        def start(name):
            link = full_disk_link(module_daemon.files / f"{name}.log")
            done = module_daemon.files / f"{name}.done"
            done.unlink(missing_ok=True)
            d.ok("start", name=name, waiting=True)
            return d, link, done

        yield start


@pytest.fixture
def log(module_daemon):
    """circusd's log since the test started."""
    return module_daemon.log


def disk_has_room_again(link) -> None:
    fresh = link.parent / "fresh.log"
    fresh.touch()
    os.replace(fresh, link)  # the path is now a regular file: the next try reopens it


@pytest.mark.parametrize("use_papa", PAPA)
def test_full_disk_logs_once_holds_output_and_resumes(started, log, use_papa):
    total = TOTAL["chatty"]  # 24 kB over ~0.6 s: well within the 2 MiB buffer
    d, link, done = started(f"chatty-{use_papa}")
    wait_for(done.exists, timeout=20, message="the worker to write everything (never blocked)")
    text = log()
    assert text.count("stdout stream failed: OSError") == 1, text
    assert "No space left on device" in text and "Traceback" not in text
    assert os.readlink(link) == "/dev/full"

    disk_has_room_again(link)
    wait_for(lambda: read(link) == expected(total), timeout=20, message="the held output")
    text = log()
    assert text.count("stdout stream failed") == 1 and text.count("works again") == 1, text
    tries = re.search(r"works again after [\d.]+ s: (\d+) failed tries", text)
    assert tries and int(tries.group(1)) >= 1
    assert "the host dropped" not in text and "Traceback" not in text
    assert len(d.pids(f"chatty-{use_papa}")) == 1


@pytest.mark.parametrize("use_papa", PAPA)
def test_beyond_the_buffer_the_oldest_output_is_dropped_and_counted(started, log, use_papa):
    total = TOTAL["flood"]  # 4 MB while the disk is full: more than the host's 2 MiB buffer
    _, link, done = started(f"flood-{use_papa}")
    wait_for(done.exists, timeout=30, message="the worker to write everything (never blocked)")
    disk_has_room_again(link)
    everything = expected(total)
    wait_for(lambda: read(link).endswith(everything[-LINE:]), timeout=20, message="the tail")
    kept = read(link)
    assert everything.endswith(kept)  # a suffix, in order, nothing twice
    text = log()
    dropped = sum(int(n) for n in re.findall(r"the host dropped (\d+) bytes of stdout", text))
    assert dropped > 0 and dropped + len(kept) == len(everything), (dropped, len(kept))
    assert len(kept) <= 2 * 1024 * 1024 + 1024 * 1024  # the buffer, plus at most one big read
    assert text.count("stdout stream failed") == 1 and "Traceback" not in text


@pytest.mark.parametrize("use_papa", PAPA)
def test_a_process_exiting_with_more_held_output_than_one_batch_is_reaped(started, log, use_papa):
    """Held output of an exited process beyond one watch batch (1 MiB) while the disk stays
    full: the exit is delivered (the rest is lost and counted), so a stop ends. It used to
    loop: the kernel sent the held output again at once (the process had exited), circusd
    refused it again, the exit record never came after it, the stop never ended and both
    daemons spun at full CPU."""
    name = f"held-{use_papa}"  # 2.4 MB while the disk is full: more than one batch is held
    d, _, done = started(name)
    wait_for(done.exists, timeout=30, message="the worker to write everything (never blocked)")
    [pid] = d.pids(name)
    d.ok("stop", name=name, waiting=True)
    wait_for(
        lambda: d.call("status", name=name).get("status") == "stopped",
        timeout=10,
        message="the watcher to stop",
    )
    assert d.pids(name) == []
    assert not pid_alive(pid)
    text = log()
    assert "ignored signal" not in text, text
    assert text.count("stdout stream failed") == 1 and "Traceback" not in text
    if use_papa == "true":  # what could not be kept is counted (use_papa=false: circusd's memory)
        assert re.search(r"the host dropped \d+ bytes of stdout", text), text
