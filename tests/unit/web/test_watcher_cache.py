"""WatcherCache: entries dropped by events, by age, and never stored from a fetch an event
overtook."""

from __future__ import annotations

import time

from circus.web.watchers import WatcherCache, event_key


def test_event_drops_the_entry_by_its_event_name():
    cache = WatcherCache()
    cache.put("My App", ([1], 1), time.monotonic())
    assert cache.get("my app") == ([1], 1)
    cache.invalidate(event_key("My App"))  # events spell it my_app
    assert cache.get("My App") is None


def test_a_fetch_started_before_an_event_is_not_kept():
    cache = WatcherCache()
    started = time.monotonic()
    cache.invalidate("web")  # the event came while the fetch was in flight
    cache.put("web", ([1], 1), started)
    assert cache.get("web") is None
    cache.put("web", ([2], 1), time.monotonic())
    assert cache.get("web") == ([2], 1)


def test_entries_expire():
    cache = WatcherCache(max_age=0.0)
    cache.put("web", ([1], 1), time.monotonic() - 1)
    assert cache.get("web") is None
