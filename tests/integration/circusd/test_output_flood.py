"""Workers flooding output do not starve the control channel (issue 13).

Twenty workers run ``yes`` into a FileStream as fast as the pipeline takes it; meanwhile
control commands are answered, including ones that go through papa-kernel (``incr`` spawns a
worker there, ``stop`` signals them all), and the output keeps flowing. The bounds are
generous (this is not a timing test: the tight figures belong to bench/output.py, which
measures p99 < 5 ms against an echo server on the same machine): a call that waited for the
flood to end, or for the kernel to read every pipe first, would exceed them.
"""

import shutil
import statistics
import time

import pytest
from support import wait_for

pytestmark = pytest.mark.timeout(120)

FLOODERS = 20
CALLS = 100
SLOWEST_CALL = 2.0  # seconds: any single control round trip during the flood
MEDIAN_CALL = 0.25  # seconds: the median round trip during the flood
#: seconds the calls go on at least: 100 fast calls took ~50 ms, within which a loaded 2-core
#: machine may not schedule the writers at all (the output looked stopped: 1 clean-clone run)
MIN_WINDOW = 0.5


def written(pids: list[int]) -> int:
    """Bytes the processes wrote so far (``wchar`` of /proc/PID/io)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/io") as handle:
                total += next(int(line.split()[1]) for line in handle if line.startswith("wchar:"))
        except (OSError, StopIteration):
            continue
    return total


def test_control_answers_while_workers_flood_output(circusd, tmp_path):
    yes = shutil.which("yes")
    if yes is None:
        pytest.skip("no yes(1)")
    d = circusd(f"""
        [watcher:flood]
        cmd = {yes}
        args = {"x" * 63}
        numprocesses = {FLOODERS}
        stdout_stream.class = FileStream
        stdout_stream.filename = /dev/null
    """)
    wait_for(lambda: len(d.pids("flood")) == FLOODERS, timeout=30, message="the flooders")
    pids = d.pids("flood")
    before = written(pids)
    wait_for(lambda: written(pids) > before + (64 << 20), timeout=30, message="64 MiB of output")

    client = d.client(timeout=30)
    try:
        times = []
        flowing = written(pids)
        window = time.perf_counter() + MIN_WINDOW
        while len(times) < CALLS or time.perf_counter() < window:
            started = time.perf_counter()
            reply = client.call({"command": "numwatchers", "properties": {}})
            times.append(time.perf_counter() - started)
            assert reply["status"] == "ok"
        assert written(pids) > flowing, "the output stopped while commands were served"
        assert max(times) < SLOWEST_CALL, sorted(times)[-5:]
        assert statistics.median(times) < MEDIAN_CALL, statistics.median(times)

        # through papa-kernel: a spawn and a stop of every worker, during the flood
        assert client.call({"command": "incr", "properties": {"name": "flood"}})["status"] == "ok"
        wait_for(lambda: len(d.pids("flood")) == FLOODERS + 1, timeout=10, message="incr")
        started = time.perf_counter()
        reply = client.call(
            {"command": "stop", "properties": {"name": "flood", "waiting": True}}, timeout=60
        )
        assert reply["status"] == "ok"
        assert time.perf_counter() - started < 20, "stop during the flood"
        assert d.pids("flood") == []
    finally:
        client.stop()
