"""What the kernel's interpreter holds: the modules it imports (each costs resident memory in a
process that lives for months) and its log file handler."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tracemalloc

import pytest

from circus.hosts.kernel_boot import kernel_import_paths
from papa_kernel.kernel import Kernel
from papa_kernel.logfile import ReopeningFileHandler
from papa_kernel.loop import Loop
from papa_kernel.records import frozen_record, record, replace
from papa_kernel.spawn import Spawned

pytestmark = pytest.mark.timeout(30)

#: Standard modules the kernel does without (and what each brought along, in MB of RSS).
NOT_IMPORTED = (
    "logging.handlers",  # pickle, queue, copy, struct: 0.5
    "typing",  # 0.4
    "dataclasses",  # with inspect, ast, dis: 1.1
    "inspect",
)


def test_the_kernel_imports_none_of_the_modules_it_does_without():
    """As circusd starts it (``python -S``, circus.hosts.kernel_boot): only papa_kernel."""
    code = (f"import sys; sys.path[:0] = {kernel_import_paths()!r}; import papa_kernel.cli; "
            "print(' '.join(sorted(sys.modules)))")  # fmt: skip
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, timeout=20).stdout.split()  # fmt: skip
    assert "papa_kernel.server" in out
    assert not set(NOT_IMPORTED) & set(out)


def test_the_log_file_is_reopened_after_rotation(tmp_path):
    path = tmp_path / "kernel.log"
    handler = ReopeningFileHandler(str(path))
    log = logging.getLogger("papa_kernel.test_footprint")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("one")
        os.rename(path, tmp_path / "kernel.log.1")  # logrotate moves it away
        log.warning("two")
        assert path.read_text() == "two\n"  # a new file at the path
        path.unlink()  # or removes it
        log.warning("three")
        log.warning("four")
    finally:
        log.removeHandler(handler)
        handler.close()
    assert (tmp_path / "kernel.log.1").read_text() == "one\n"
    assert path.read_text() == "three\nfour\n"


@frozen_record
class Point:
    x: int
    y: int = 0


@record
class Box:
    size: int
    label: str = "box"


def test_records_behave_as_the_dataclasses_they_replace():
    p = Point(1)
    assert (p.x, p.y) == (1, 0) and p == Point(x=1, y=0) and p != Point(1, 2)
    assert repr(p) == "Point(x=1, y=0)" and hash(p) == hash(Point(1, 0))
    with pytest.raises(AttributeError, match="frozen Point"):
        p.x = 3  # type: ignore[misc]
    assert replace(p, y=5) == Point(1, 5) and p.y == 0
    for bad in (lambda: Point(), lambda: Point(1, 2, 3), lambda: Point(1, z=2),
                lambda: Point(1, x=2), lambda: replace(p, z=1)):  # fmt: skip
        with pytest.raises(TypeError):
            bad()
    box = Box(3)
    box.size = 4
    assert box == Box(4, "box") and box.label == "box"
    with pytest.raises(TypeError):
        hash(box)


def test_a_hosted_process_costs_the_kernel_little_memory():
    """What the kernel keeps per hosted worker (entry, two output streams, three fd handlers,
    its name and pid): under 1.6 KB of Python memory (1.36 KB measured; 2.4 KB with closures as
    handlers, a set of watches and an unused list per entry). The fds are pipes standing in
    for the child's (never readable here)."""
    loop, count = Loop(), 150
    kernel = Kernel(loop, use_pidfd=False)
    fds = [os.pipe() for _ in range(3 * count)]
    identity = ((("stdout", "1"),), ("/bin/sleep", "100"))
    try:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        entries = []
        for index in range(count):
            out, err, pidfd = (fds[3 * index + k][0] for k in range(3))
            spawned = Spawned(pid=10**6 + index, pidfd=pidfd, stdout=out, stderr=err)
            entries.append(kernel.host(f"w.{index}", spawned, "/bin/sleep 100", identity, 4096))
        per_entry = (tracemalloc.get_traced_memory()[0] - before) / count
        tracemalloc.stop()
    finally:
        loop.close()  # also the SIGCHLD handler and the wakeup fd the kernel installed
        for read, write in fds:
            os.close(read)
            os.close(write)
    assert per_entry < 1600, f"{per_entry:.0f} bytes per hosted process"
