"""The built-in plugins against the real thing: StatsdEmitter and FullStats against a UDP
listener (the original's wire format), CommandReloader against a modified program file,
WatchDog against real heartbeat senders and a worker that stops sending, HttpObserver against a
local HTTP server.

The tests share one circusd (shared_daemon.py) whose config has every test's watchers and
plugin, stopped (``autostart = false``, ``active = false``): each test starts its own, and the
fixture stops them after it. The statsd listener, the watchdog's UDP port and the observed HTTP
server are the module's too."""

from __future__ import annotations

import http.server
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from shared_daemon import shared_circusd
from support import WORKER_CMD, wait_for

pytestmark = pytest.mark.timeout(120)
HEARTBEAT = Path(__file__).with_name("heartbeat.py")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _active(d, name: str) -> bool:
    return d.ok("status", name=name)["status"] == "active"


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory, module_statsd, http_server):
    files = tmp_path_factory.mktemp("builtin")
    program = files / "app.sh"
    program.write_text("#!/bin/sh\nexec sleep 300\n")
    program.chmod(0o755)
    heartbeat_port = _free_udp_port()
    statsd = module_statsd.port
    server = http_server[0]
    body = f"""
        [watcher:emitted]
        cmd = {WORKER_CMD} sleep
        use_papa = false
        graceful_timeout = 3
        autostart = false

        [plugin:statsd]
        use = circus.plugins.statsd.StatsdEmitter
        host = 127.0.0.1
        port = {statsd}
        sample_rate = 1.0
        application_name = example
        active = false

        [watcher:web]
        cmd = {WORKER_CMD} sleep
        numprocesses = 2
        use_papa = false
        autostart = false

        [plugin:fullstats]
        use = circus.plugins.statsd.FullStats
        host = 127.0.0.1
        port = {statsd}
        application_name = example
        loop_rate = 0.2
        active = false

        [watcher:app]
        cmd = {program}
        use_papa = false
        autostart = false

        [watcher:other]
        cmd = sleep 300
        use_papa = false
        autostart = false

        [plugin:reloader]
        use = circus.plugins.command_reloader.CommandReloader
        loop_rate = 0.3
        active = false

        [watcher:good]
        cmd = {sys.executable} -S {HEARTBEAT} {heartbeat_port} -1
        numprocesses = 2
        use_papa = false
        autostart = false

        [watcher:silent]
        cmd = {sys.executable} -S {HEARTBEAT} {heartbeat_port} 3
        use_papa = false
        graceful_timeout = 2
        autostart = false

        [watcher:ignored]
        cmd = sleep 300
        use_papa = false
        autostart = false

        [plugin:watchdog]
        use = circus.plugins.watchdog.WatchDog
        loop_rate = 0.3
        max_count = 3
        watchers_regex = ^(good|silent)$
        port = {heartbeat_port}
        active = false

        [watcher:observed]
        cmd = {WORKER_CMD} sleep
        use_papa = false
        autostart = false

        [plugin:http]
        use = circus.plugins.http_observer.HttpObserver
        host = 127.0.0.1
        port = {statsd}
        loop_rate = 0.3
        check_url = http://127.0.0.1:{server.server_address[1]}/health
        timeout = 2
        restart_on_error = observed
        active = false
    """
    with shared_circusd(files / "d", body) as shared:
        shared.program = program
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


def test_statsd_emitter_counts_every_event(shared, module_statsd):
    d, statsd = shared.daemon, module_statsd
    _start(d, "emitted", "plugin:statsd")
    wait_for(lambda: _active(d, "plugin:statsd"))

    def updated_counted() -> bool:  # the subscription joins a moment after the start
        d.ok("set", name="emitted", options={"graceful_timeout": 3})
        return "circus.example.watcher.emitted.updated:1|c" in statsd.drain()

    wait_for(updated_counted, timeout=30, interval=0.3, message="the emitter counts events")
    d.ok("incr", name="emitted")
    statsd.wait(r"circus\.example\.watcher\.emitted\.spawn:1\|c")
    d.ok("decr", name="emitted")
    statsd.wait(r"circus\.example\.watcher\.emitted\.reap:1\|c")
    # every datagram is one counter in the original's format
    assert all(re.fullmatch(r"circus\.example\.watcher\.[\w:.-]+\.\w+:1\|c", m)
               for m in statsd.received), statsd.received  # fmt: skip


def test_full_stats_sends_gauges_of_the_watchers(shared, module_statsd):
    d, statsd = shared.daemon, module_statsd
    _start(d, "web", "plugin:fullstats")
    prefix = r"circus\.example\.watcher\._stats\.web\."
    statsd.wait(prefix + r"watchers_num:2\|g")
    for gauge in ("cpu_max", "cpu_sum", "mem_pct_max", "mem_pct_sum"):
        statsd.wait(prefix + gauge + r":[\d.]+\|g")
    rss = int(statsd.wait(prefix + r"mem_sum:\d+\|g").split(":")[1].split("|")[0])
    assert rss > 1024 * 1024  # two Python processes
    assert not any("_stats.plugin:" in m for m in statsd.received)  # plugins are skipped
    assert d.ok("status", name="plugin:fullstats")["status"] == "active"


def test_statsd_client_formats(statsd):
    from circus.plugins.statsd import StatsdClient

    client = StatsdClient("127.0.0.1", statsd.port, prefix="p", sample_rate=0.5)
    client.increment("a")
    client.decrement("b", 3)
    client.gauge("c", 1.5)
    client.timed("d", 12)
    client.send("e", "1|c", sample_rate=1)
    client.stop()
    client.increment("after-stop")  # dropped, no error
    wait_for(lambda: len(statsd.drain()) >= 5)
    assert statsd.received == [
        "p.a:1|c|@0.5", "p.b:-3|c|@0.5", "p.c:1.5|g|@0.5", "p.d:12|ms|@0.5", "p.e:1|c",
    ]  # fmt: skip


def test_command_reloader_restarts_a_modified_program(shared):
    d, program = shared.daemon, shared.program
    _start(d, "app", "other", "plugin:reloader")
    wait_for(lambda: f"watching {program} for app" in shared.log(), timeout=30)
    wait_for(lambda: "for other" in shared.log(), timeout=30)  # `sleep` found on PATH
    [old] = d.pids("app")
    [other] = d.pids("other")
    later = time.time() + 10
    os.utime(program, (later, later))
    wait_for(lambda: d.pids("app") not in ([], [old]), timeout=30, message="app restarted")
    assert f"{program} modified. Restarting app." in shared.log()
    assert d.pids("other") == [other]


def test_watchdog_kills_the_worker_that_stops_sending(shared):
    d = shared.daemon
    _start(d, "plugin:watchdog")  # first: it learns the workers from their spawn events
    wait_for(lambda: "Watchdog listening UDP" in shared.log(), timeout=30)
    _start(d, "good", "silent", "ignored")
    good = sorted(d.pids("good"))
    [silent] = d.pids("silent")
    [ignored] = d.pids("ignored")
    # the silent worker stops after ~0.3 s; 0.9 s of silence later (3 loops of 0.3 s) it is
    # killed and respawned; the others send every 0.1 s
    wait_for(lambda: d.pids("silent") not in ([], [silent]), timeout=30,
             message="the silent worker replaced")  # fmt: skip
    assert f"pid:{silent} is not responding" in shared.log()
    # its replacement is monitored too (spawn event): it goes silent and is replaced in turn
    [second] = d.pids("silent")
    wait_for(lambda: d.pids("silent") not in ([], [second]), timeout=30)
    # the workers that keep sending, and the watchers not matched, are left alone
    assert sorted(d.pids("good")) == good
    assert d.pids("ignored") == [ignored]
    assert d.ok("status", name="plugin:watchdog")["status"] == "active"


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_server() -> Iterator[tuple[http.server.HTTPServer, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_http_observer_times_requests_and_restarts_on_error(shared, module_statsd, http_server):
    d, statsd = shared.daemon, module_statsd
    server, handler = http_server
    _start(d, "observed", "plugin:http")
    prefix = r"circus\.http_observer\.watcher\.http_stats\."
    statsd.wait(prefix + r"request_time:\d+\|ms")
    [old] = d.pids("observed")
    assert not any("error" in m for m in statsd.drain())

    handler.status = 500
    statsd.wait(prefix + r"error\.500:1\|c")
    statsd.wait(prefix + r"restart_on_error:1\|c")
    assert prefix.replace("\\", "") + "error:1|c" in statsd.received
    wait_for(lambda: d.pids("observed") not in ([], [old]), message="observed restarted")

    server.shutdown()  # nothing answers now: no HTTP answer is 599
    server.server_close()
    statsd.wait(prefix + r"error\.599:1\|c")
