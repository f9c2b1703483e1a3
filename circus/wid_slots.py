"""The wids of a watcher's processes: which are taken, and the smallest free ones.

A wid (worker id: 1, 2, ...) is unique among the processes a watcher holds, and a new process
takes the smallest free one. Building the set of taken wids and scanning it from 1 on every
respawn cost about 1 ms of circusd CPU with 10,000 processes (O(N) per respawn); this index is
updated as processes come and go and answers with the free wids below the highest one taken
(the holes) before the fresh ones above it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator


class WidSlots:
    """Taken wids (counted: two holders of one wid are tolerated, each is released once)."""

    def __init__(self) -> None:
        self._taken: dict[int, int] = {}  # wid -> how many processes hold it
        self._holes: set[int] = set()  # free wids below _top
        self._top = 1  # every wid from here on is free

    def take(self, wid: int) -> None:
        self._taken[wid] = self._taken.get(wid, 0) + 1
        if wid >= self._top:
            self._holes.update(range(self._top, wid))
            self._top = wid + 1
        else:
            self._holes.discard(wid)

    def release(self, wid: int) -> None:
        holders = self._taken.get(wid, 0)
        if holders > 1:
            self._taken[wid] = holders - 1
        elif holders == 1:
            del self._taken[wid]
            self._holes.add(wid)

    def free(self) -> Iterator[int]:
        """The free wids, smallest first, as they are at the first ``next()`` (nothing is
        reserved: a wid is taken when its process is registered)."""
        yield from sorted(self._holes)
        yield from itertools.count(self._top)

    def __contains__(self, wid: object) -> bool:
        return wid in self._taken
