"""`stats` measures CPU over the period since the previous call, as the original did: a busy
worker reads its share of a core, an idle one near 0 (a fresh psutil handle per call read 0.0
always)."""

from __future__ import annotations

import pytest
from support import wait_for

pytestmark = pytest.mark.timeout(60)


def test_stats_cpu_of_a_busy_worker_and_its_busy_child(circusd, worker_cmd):
    # the hog's child hogs too: children figures use kept handles the same way (each uses a
    # quarter of a core at most: see worker.py)
    d = circusd(f"""
        [watcher:hog]
        cmd = {worker_cmd} hog --child

        [watcher:idle]
        cmd = {worker_cmd} sleep
    """)
    [hog] = d.pids("hog")

    def busy() -> bool:
        info = d.ok("stats", name="hog")["info"][str(hog)]
        idle = next(iter(d.ok("stats", name="idle")["info"].values()))
        children = info["children"]
        # thresholds low enough for a loaded CI machine (a hog then gets ~10 % of a core);
        # before the fix every figure read exactly 0.0
        return (
            info["cpu"] > 2 and idle["cpu"] < info["cpu"] / 2
            and len(children) == 1 and children[0]["cpu"] > 2
        )  # fmt: skip

    try:
        wait_for(busy, timeout=30, interval=0.5, message="stats reads the hogs' CPU")
    except AssertionError:
        raise AssertionError(f"{d.ok('stats', name='hog')} {d.ok('stats', name='idle')}") from None
