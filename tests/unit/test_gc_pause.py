"""gc_paused: the collector is off inside the block, back on after; freeze=True freezes."""

from __future__ import annotations

import gc

from circus.util.gc_pause import gc_paused


def test_the_collector_is_off_inside_and_back_on_after_even_on_error():
    assert gc.isenabled()
    try:
        with gc_paused():
            assert not gc.isenabled()
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()


def test_a_collector_already_off_stays_off():
    gc.disable()
    frozen = gc.get_freeze_count()
    try:
        with gc_paused(freeze=True):
            assert not gc.isenabled()
        assert not gc.isenabled()
        assert gc.get_freeze_count() == frozen  # nothing was paused here: nothing frozen
    finally:
        gc.enable()


def test_freeze_moves_what_the_block_made_out_of_the_collectors_passes():
    frozen = gc.get_freeze_count()
    try:
        with gc_paused(freeze=True):
            made = [[] for _ in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(made)
    finally:
        if not frozen:  # put back as found; tests/conftest.py freezes what collection made
            gc.unfreeze()
