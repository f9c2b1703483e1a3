"""``gc_paused()``: the cyclic garbage collector off for a stretch that makes many objects and
no garbage cycles worth collecting.

Used while a configuration is read and built (the collector's passes over the growing heap made
loading time grow faster than the file: 16,000 watchers took 5.7x the time of 4,000 with it,
3.5x without) and around circusd's start-up imports (module and class objects: the collector
made ~45 passes over them before the first spawn, 7-10 ms, and collected next to nothing).
Reference counting still frees everything at once; the collector is back on when the stretch
ends.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused(freeze: bool = False) -> Iterator[None]:
    """The cyclic garbage collector off inside the block (left off if it already was).

    ``freeze``: at the end, move every object the collector tracks into its permanent
    generation (:func:`gc.freeze`), for objects made once that live as long as the process
    (modules, classes, the start-up configuration): without it, the first passes after the
    block scan all of them, and every full pass after that scans them again. Frozen objects
    are still freed by reference counting; only a cycle among them is never collected."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        gc.enable()
