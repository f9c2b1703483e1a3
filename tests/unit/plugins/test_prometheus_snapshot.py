"""PrometheusExporter's reading of circusd's replies and its event counters, pure."""

from __future__ import annotations

import pytest

from circus.plugins.prometheus import EventCounters, flapping_of, processes_of

pytestmark = pytest.mark.timeout(10)


def test_flapping_and_gave_up_details_mark_watchers() -> None:
    reply = {
        "status": "ok",
        "statuses": {"web": "stopped", "db": "stopped", "ok": "active"},
        "flapping": {"web": {"reason": "2 exits within 0.1 s", "retry": 1}},
        "gave_up": {"db": {"rule": "max_retry"}},
    }
    assert flapping_of(reply) == {"web", "db"}
    assert flapping_of({"status": "ok", "statuses": {}}) == frozenset()


def test_processes_of_a_stats_reply_skip_extra_keys_and_read_sizes() -> None:
    reply = {
        "infos": {
            "web": {
                "12": {"wid": 1, "cpu": 12.5, "mem": 0.5, "mem_info1": "1.50M",
                       "mem_info2": "3.00M", "age": 2.0},
                "13": {"wid": 2, "cpu": "N/A", "mem": "N/A", "mem_info1": "N/A",
                       "mem_info2": "N/A", "age": "N/A"},
                "spawn_count": 4,
                "outdated": {"12": "cmd"},
            },
            "stopped": {},
        }
    }  # fmt: skip
    first, second = processes_of(reply)
    assert (first.watcher, first.pid, first.wid, first.cpu) == ("web", 12, "1", 12.5)
    assert first.rss == int(1.5 * 1024 * 1024) and first.vms == 3 * 1024 * 1024
    assert (second.pid, second.cpu, second.rss) == (13, 0.0, 0)


def test_restarts_count_spawns_that_replace_an_exit() -> None:
    counters = EventCounters()
    events = [
        ("spawn", 1), ("spawn", 2),
        ("reap", 1), ("spawn", 3),  # died by itself, replaced: a restart
        ("kill", 2), ("reap", 2), ("spawn", 4),  # killed on purpose (max_age): not one
        ("reap", 3), ("stop", None), ("kill", 4), ("reap", 4),  # stopped: nothing to replace
        ("spawn", 5),  # started again: a start, not a restart
    ]  # fmt: skip
    for action, pid in events:
        counters.on_event("web", action, {"process_pid": pid} if pid else {"time": 0})
    spawns, exits, restarts = counters.copy()
    assert (spawns["web"], exits["web"], restarts["web"]) == (5, 4, 1)
