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
    "web/test_console.py",
    "integration/circusd/test_ssh.py",
    "integration/circusd/test_fleet_netns.py",
    "config/test_fuzz.py",
    "integration/discovery/test_discovery.py",
    "compat/test_circusctl_compat.py",
    "integration/control/test_connection_watch.py",
    "integration/circusd/test_cli.py",
    "integration/control/test_circusctl.py",
    "packaging/test_distributions.py",
    "integration/circusd/test_kernel_loss.py",
    "integration/circusd/test_failing_stream.py",
    "integration/circusd/plugins/test_builtin_plugins.py",
    "integration/circusd/test_lifecycle.py",
    "integration/control/test_controller_fuzz.py",
    "integration/circusd/test_command_errors.py",
    "compat/test_stats_compat.py",
    "integration/circusd/test_restart_without_downtime.py",
    "integration/web/test_security.py",
    "integration/stats/test_circusd_stats.py",
    "config/test_shellwords.py",
    "unit/control/test_boundedjson.py",
    "compat/test_original_plugins.py",
    "integration/netns/test_netns_fixture.py",
    "integration/hosts/test_kernel_host.py",
    "kernel/test_fuzz.py",
    "integration/circusd/plugins/test_observers.py",
    "integration/circusd/test_limits.py",
    "integration/circusd/plugins/test_plugin_api.py",
    "integration/stats/test_circus_top.py",
    "integration/discovery/test_discovery_shared.py",
    "integration/circusd/test_outdated_workers.py",
    "integration/circusd/test_trust.py",
    "integration/circusd/test_flapping.py",
    "integration/circusd/plugins/test_prometheus.py",
    "integration/control/test_controller.py",
    "integration/control/test_clients_events.py",
    "integration/stats/test_statsd_watcher.py",
    "integration/circusd/test_fleet_netns_keys.py",
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
