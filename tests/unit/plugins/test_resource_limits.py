"""ResourceWatcher's decisions, pure: which limits figures pass, when it acts (more than
max_count looks in a row), units of memory limits, and option errors by name."""

from __future__ import annotations

import pytest

from circus.plugins.resource_watcher import Figures, Limit, Limits, ResourceCounts

pytestmark = pytest.mark.timeout(10)
M = 1 << 20


def test_defaults_are_the_originals() -> None:
    limits = Limits.from_config({})
    assert limits == Limits(90.0, None, Limit(90.0, True), None, 75.0, 3)


def test_limits_passed() -> None:
    limits = Limits.from_config(
        {"max_cpu": "50", "min_cpu": "1", "max_mem": "100M", "min_mem": "1M",
         "health_threshold": "40"}
    )  # fmt: skip
    assert limits.max_mem == Limit(100 * M, False)
    assert limits.passed(Figures(max_cpu=60, min_cpu=60, max_rss=10 * M, min_rss=10 * M)) == [
        "over_cpu"
    ]
    assert limits.passed(Figures(max_cpu=0.5, min_cpu=0.5, max_rss=2 * M, min_rss=2 * M)) == [
        "under_cpu"
    ]
    assert limits.passed(Figures(max_cpu=5, min_cpu=5, max_rss=200 * M, min_rss=512)) == [
        "over_memory",
        "under_memory",
    ]
    # health: the mean of the worst CPU % and memory % over the threshold
    assert "over_health" in limits.passed(Figures(max_cpu=45, min_cpu=45, max_mem=40,
                                                  max_rss=2 * M, min_rss=2 * M))  # fmt: skip


def test_memory_limits_as_percent_or_size() -> None:
    assert Limit.parse("max_mem", "12.5") == Limit(12.5, True)
    assert Limit.parse("max_mem", "512K") == Limit(512 * 1024, False)
    assert Limit.parse("max_mem", "2G") == Limit(2 * 1024 * M, False)
    with pytest.raises(ValueError, match="max_mem: 'lots' is neither"):
        Limit.parse("max_mem", "lots")
    # an absolute min_mem compares bytes (the original compared it as a %)
    limits = Limits.from_config({"min_mem": "64M", "max_mem": "99", "health_threshold": "0"})
    assert limits.passed(Figures(min_mem=50.0, max_mem=50.0, min_rss=32 * M)) == ["under_memory"]
    assert limits.passed(Figures(min_mem=0.1, max_mem=0.1, min_rss=128 * M)) == []


def test_acts_after_more_than_max_count_looks_in_a_row() -> None:
    counts = ResourceCounts(Limits.from_config({"max_cpu": "50", "max_count": "2"}))
    hot, cool = Figures(max_cpu=80, min_cpu=80), Figures(max_cpu=10, min_cpu=10)
    assert counts.look("w", hot) == (["over_cpu"], False)
    assert counts.look("w", hot) == (["over_cpu"], False)
    assert counts.look("w", cool) == ([], False)  # a good look starts the count again
    assert [counts.look("w", hot)[1] for _ in range(3)] == [False, False, True]
    assert counts.look("w", hot) == (["over_cpu"], False)  # counts reset after acting
    counts.look("other", hot)
    counts.keep_only({"w"})
    assert set(counts.counts) == {"w"}


def test_unreadable_figures_count_as_over_like_the_original() -> None:
    f = Figures.of([{"cpu": "N/A", "mem": "N/A", "mem_info1": "N/A"}])
    assert (f.max_cpu, f.max_mem, f.max_rss) == (100.0, 100.0, 0)
    assert Figures.of([]) == Figures()


@pytest.mark.parametrize(
    ("config", "message"),
    [({"max_cpu": "hot"}, "max_cpu: not a number: 'hot'"),
     ({"min_cpu": "-1"}, "min_cpu: must not be negative"),
     ({"max_count": "2.5"}, "max_count: not a whole number"),
     ({"min_mem": "some"}, "min_mem: 'some' is neither")],
)  # fmt: skip
def test_bad_options_name_the_key(config: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Limits.from_config(config)
