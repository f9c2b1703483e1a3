"""WidSlots: the smallest free wids without scanning every process (O(N) per respawn before)."""

from __future__ import annotations

import itertools
import random

from circus.testing import FakeHost, arbiter_on, settle, start_arbiter, virtual_time
from circus.wid_slots import WidSlots


def first(slots: WidSlots, count: int) -> list[int]:
    return list(itertools.islice(slots.free(), count))


def test_free_wids_are_the_holes_then_the_ones_above_the_highest_taken():
    slots = WidSlots()
    assert first(slots, 3) == [1, 2, 3]
    for wid in (1, 2, 3, 4, 5):
        slots.take(wid)
    slots.release(2)
    slots.release(4)
    assert first(slots, 4) == [2, 4, 6, 7]
    slots.take(9)  # adopted out of order: 6, 7, 8 are holes
    assert first(slots, 6) == [2, 4, 6, 7, 8, 10]
    assert 9 in slots and 6 not in slots


def test_a_wid_held_twice_is_free_only_once_both_let_it_go():
    slots = WidSlots()
    slots.take(1)
    slots.take(1)
    slots.release(1)
    assert first(slots, 1) == [2]
    slots.release(1)
    assert first(slots, 1) == [1]
    slots.release(1)  # not taken: ignored
    assert first(slots, 2) == [1, 2]


def test_matches_the_scan_it_replaces_on_random_operations():
    rng = random.Random(13)
    slots, taken = WidSlots(), set()
    for _ in range(2000):
        if taken and rng.random() < 0.45:
            wid = rng.choice(sorted(taken))
            taken.discard(wid)
            slots.release(wid)
        else:
            wid = rng.randint(1, 300) if rng.random() < 0.2 else first(slots, 1)[0]
            if wid in taken:
                continue
            taken.add(wid)
            slots.take(wid)
        scan = (wid for wid in itertools.count(1) if wid not in taken)
        assert first(slots, 5) == list(itertools.islice(scan, 5))


@virtual_time
async def test_a_respawn_takes_the_wid_of_the_dead_process():
    host = FakeHost()
    config = {"watchers": [{"name": "w", "cmd": "prog", "numprocesses": 4}]}
    arbiter = await start_arbiter(arbiter_on(host, config))
    watcher = arbiter.get_watcher("w")
    by_wid = {p.wid: p for p in watcher.processes.values()}
    host.exit(by_wid[3].pid, -9)
    host.exit(by_wid[1].pid, -9)
    await settle()
    assert sorted(p.wid for p in watcher.processes.values()) == [1, 2, 3, 4]
    assert [c.name for c in host.ops("spawn")][-2:] == ["circus.w.1", "circus.w.3"]
