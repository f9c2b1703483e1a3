"""RedisObserver against a real redis-server (run as a circus watcher on a free port), and
ResourceWatcher against real CPU and memory hogs, both reporting to a real UDP listener.

The tests share one circusd (shared_daemon.py) whose config has every test's watchers and
plugin, stopped (``autostart = false``, ``active = false``): each test starts its own, and the
fixture stops them after it."""

from __future__ import annotations

import os
import shutil
import signal
import sys

import pytest
from shared_daemon import shared_circusd
from support import WORKER_CMD, free_port, wait_for

pytestmark = pytest.mark.timeout(120)
# -S: these workers need only the standard library (see support.WORKER_CMD)
HOG = f"{WORKER_CMD} hog"  # a quarter of a core at most: over max_cpu = 1 (%)
BIG = f"{sys.executable} -S -c \"import time; b = b'x' * (96 << 20); time.sleep(600)\""
SMALL = f'{sys.executable} -S -c "import time; time.sleep(600)"'
REDIS = shutil.which("redis-server")


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory, module_statsd):
    files = tmp_path_factory.mktemp("observers")
    script = files / "worker.py"
    script.write_text(
        "import sys, time\n"
        "big = sys.argv[1] == '1'\n"
        "hold = b'x' * ((96 if big else 1) << 20)\n"
        "time.sleep(600)\n"
    )
    redis_port, statsd = free_port(), module_statsd.port
    body = f"""
        [watcher:hog]
        cmd = {HOG}
        autostart = false

        [plugin:resources-hog]
        use = circus.plugins.resource_watcher.ResourceWatcher
        host = 127.0.0.1
        port = {statsd}
        watcher = hog
        max_cpu = 1
        max_mem = 90
        health_threshold = 0
        max_count = 1
        loop_rate = 0.3
        active = false

        [watcher:mixed]
        cmd = {sys.executable} -S {script} $(circus.wid)
        numprocesses = 2
        autostart = false

        [plugin:resources-mixed]
        use = circus.plugins.resource_watcher.ResourceWatcher
        host = 127.0.0.1
        port = {statsd}
        watcher = mixed
        per_process = true
        max_cpu = 0
        max_mem = 64M
        health_threshold = 0
        max_count = 1
        loop_rate = 0.3
        active = false

        [watcher:one]
        cmd = {SMALL}
        autostart = false

        [plugin:resources-nowatcher]
        use = circus.plugins.resource_watcher.ResourceWatcher
        port = {statsd}
        max_cpu = 50
        active = false
    """
    if REDIS is not None:
        body += f"""
        [watcher:redis]
        cmd = {REDIS} --port {redis_port} --bind 127.0.0.1 --dir {files} --appendonly no
        graceful_timeout = 0.3
        autostart = false

        [plugin:redis]
        use = circus.plugins.redis_observer.RedisObserver
        host = 127.0.0.1
        port = {statsd}
        redis_url = redis://127.0.0.1:{redis_port}/0
        timeout = 0.5
        loop_rate = 0.3
        restart_on_timeout = redis
        active = false
        """
    with shared_circusd(files / "d", body) as shared:
        yield shared


@pytest.fixture
def shared(module_daemon, module_statsd):
    """The module's circusd, as it started (checked before the test, put back after), and
    the statsd listener emptied."""
    with module_daemon.test():
        module_statsd.drain()
        module_statsd.received.clear()
        yield module_daemon


def _start(d, *names: str) -> None:
    for name in names:
        d.ok("start", name=name, waiting=True)


@pytest.mark.skipif(REDIS is None, reason="redis-server is not installed (.ci/system-packages)")
def test_redis_observer_reports_and_restarts_a_hung_server(shared, module_statsd):
    d, statsd = shared.daemon, module_statsd
    _start(d, "redis", "plugin:redis")
    prefix = r"circus\.redis_observer\.watcher\.redis_stats"
    statsd.wait(prefix + r"\.connected_clients:[1-9]\d*\|g")
    statsd.wait(prefix + r"\.uptime_in_seconds:\d+\|g")
    statsd.wait(prefix + r"\.used_memory:\d+\|g")

    [hung] = d.pids("redis")
    os.kill(hung, signal.SIGSTOP)  # alive but silent: every INFO times out
    try:
        statsd.wait(prefix + r"\.error:1\|c")
        statsd.wait(prefix + r"\.restart_on_error:1\|c")
        wait_for(lambda: d.pids("redis") not in ([], [hung]), timeout=30,
                 message="circusd restarted the hung redis-server")  # fmt: skip
    finally:
        os.kill(hung, signal.SIGCONT) if hung in d.pids("redis") else None
    statsd.received.clear()
    statsd.wait(prefix + r"\.connected_clients:[1-9]\d*\|g")  # reports again


def test_resource_watcher_restarts_a_cpu_hog(shared, module_statsd):
    d, statsd = shared.daemon, module_statsd
    _start(d, "hog", "plugin:resources-hog")
    [hog] = d.pids("hog")
    statsd.wait(r"circus\.app\.watcher\._resource_watcher\.hog\.over_cpu:1\|c")
    statsd.wait(r"circus\.app\.watcher\._resource_watcher\.hog\.restarting:1\|c")
    wait_for(lambda: d.pids("hog") not in ([], [hog]), timeout=30,
             message="the CPU hog's watcher restarted")  # fmt: skip


def test_resource_watcher_per_process_kills_only_the_big_one(shared, module_statsd):
    d, statsd = shared.daemon, module_statsd
    _start(d, "mixed", "plugin:resources-mixed")

    def by_wid() -> dict[int, int]:
        info = d.ok("stats", name="mixed")["info"]
        return {v["wid"]: int(pid) for pid, v in info.items() if isinstance(v, dict)}

    wait_for(lambda: len(by_wid()) == 2, message="both workers running")
    before = by_wid()
    statsd.wait(r"circus\.app\.watcher\._resource_watcher\.mixed\.over_memory:1\|c")
    wait_for(lambda: (now := by_wid()).get(1) not in (None, before[1]) and len(now) == 2,
             timeout=30, message="the 96 MiB worker replaced")  # fmt: skip
    assert by_wid()[2] == before[2], "the small worker was left alone"


def test_resource_watcher_without_watcher_option_stops_its_plugin(shared):
    d = shared.daemon
    _start(d, "one")
    d.call("start", name="plugin:resources-nowatcher", waiting=True)
    wait_for(lambda: d.ok("status", name="plugin:resources-nowatcher")["status"] == "stopped"
             and "watcher: required" in shared.log(),
             timeout=30, message="the misconfigured plugin is shown stopped")  # fmt: skip
    assert d.ok("status", name="one")["status"] == "active"
