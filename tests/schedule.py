"""How the suite is spread over xdist workers (``make test``: ``-n N --dist loadfile``).

Two things, both for the wall time of a whole run:

- **Longest first.** :data:`SLOW_FIRST` lists the files that take longest (wall time, from
  ``pytest --cpu-report=40`` on the whole suite), longest first. They are collected first, so
  the workers start with them and no worker is left alone with one of them at the end while
  the others are idle. The rest keep their usual order (xdist's ``--no-loadscope-reorder``).
- **Spread files.** ``--dist loadfile`` runs all the tests of a file on one worker, so a
  module fixture (a browser, a circusd, a built wheel) starts once and two in-tree wheel builds
  never collide. The files in :data:`SPREAD` have no fixture wider than a test (checked at
  collection) and tests that do not get in each other's way (their own namespaces, ports,
  runtime dirs), but they mostly wait (discovery rounds, call time-outs, link cuts): each of
  their tests is a unit of its own, so several workers share one such file's waiting.

Loaded by tests/conftest.py (``pytest_plugins``).
"""

from __future__ import annotations

import os

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))

SLOW_FIRST = (
    "integration/circusd/test_fleet_netns_keys.py",
    "integration/circusd/test_fleet_netns.py",
    "integration/circusd/test_ssh.py",
    "web/test_console.py",
    "integration/stats/test_circusd_stats.py",
    "integration/discovery/test_discovery.py",
    "integration/discovery/test_discovery_shared.py",
    "integration/control/test_connection_watch.py",
    "integration/control/test_clients_events.py",
    "integration/stats/test_statsd_watcher.py",
    "integration/circusd/test_outdated_workers.py",
    "integration/circusd/test_fleet.py",
    "integration/circusd/test_policy.py",
    "compat/test_circusctl_compat.py",
    "integration/circusd/plugins/test_builtin_plugins.py",
    "integration/circusd/test_lifecycle.py",
    "integration/stats/test_circus_top.py",
    "integration/control/test_controller.py",
    "integration/circusd/test_limits.py",
    "integration/circusd/test_failed_start.py",
    "integration/circusd/plugins/test_observers.py",
    "integration/circusd/test_third_party_commands.py",
    "compat/test_stats_compat.py",
    "integration/web/test_live.py",
    "integration/web/test_security.py",
    "config/test_fuzz.py",
)

SPREAD = (
    "integration/circusd/test_fleet_netns_keys.py",
    "integration/discovery/test_discovery.py",
    "integration/control/test_connection_watch.py",
    "integration/control/test_clients_events.py",
    "integration/stats/test_statsd_watcher.py",
    "integration/control/test_controller.py",
    "compat/test_circusctl_compat.py",
)


def _relative(nodeid_or_path: str) -> str:
    path = nodeid_or_path.split("::", 1)[0]
    return os.path.relpath(path, TESTS) if os.path.isabs(path) else path.removeprefix("tests/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    relative = {path: _relative(str(path)) for path in {item.path for item in items}}
    # a stable sort: the tests of a file keep their order, and the other files theirs
    items.sort(key=lambda item: rank.get(relative[item.path], len(rank)))
    for item in items:
        if relative[item.path] not in SPREAD:
            continue
        info = getattr(item, "_fixtureinfo", None)  # a test function's fixtures
        wide = {
            name: defs[-1].scope
            for name, defs in (info.name2fixturedefs.items() if info else ())
            if defs and defs[-1].scope in ("module", "package", "class")
        }
        if wide:
            raise pytest.UsageError(
                f"{item.nodeid} uses fixtures shared wider than a test ({wide}), but its file "
                "is in tests/schedule.py's SPREAD (each test of it may run on another worker): "
                "take the file out of SPREAD"
            )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadfile``, except that each test of a :data:`SPREAD` file is a unit."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SpreadFileScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if _relative(nodeid) in SPREAD:
                return nodeid
            return super()._split_scope(nodeid)

    return SpreadFileScheduling(config, log)
