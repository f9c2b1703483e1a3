"""Plugins across implementations: the ORIGINAL circus 0.19 plugins (its circus-plugin running
its StatsdEmitter and FullStats) against OUR circusd, and OUR circus-plugin (the manual's Logger
on our CircusPlugin) against the ORIGINAL circusd. Both directions use the wire formats only:
events on the pub/sub socket, commands and replies on the control socket, statsd datagrams."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # circusctl_scenario

import circusctl_scenario as sc
import support
from shared_daemon import shared_circusd
from support import wait_for

pytestmark = [pytest.mark.compat, pytest.mark.timeout(120)]
ORIGINAL_PLUGIN = sc.ORIGINAL_VENV / "circus-plugin"
ORIGINAL_CIRCUSD = sc.ORIGINAL_VENV / "circusd"
if not ORIGINAL_PLUGIN.exists():
    pytest.skip("the original circus 0.19 is not installed", allow_module_level=True)


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    yield sock
    sock.close()


def _drain(sock: socket.socket, into: list[str]) -> list[str]:
    while True:
        try:
            into.append(sock.recv(65536).decode())
        except TimeoutError:
            return into


@pytest.fixture
def running() -> Iterator[list[subprocess.Popen]]:
    """Processes a test starts; each gets SIGTERM (then SIGKILL) at the end."""
    procs: list[subprocess.Popen] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    """Our circusd for the two tests against it (shared_daemon.py): watcher sleeper, and app
    with the original's command_reloader.py as a plugin (stopped until its test starts them)."""
    root = sorted(sc.REPO.glob(".venv-circus019/lib/python3*/site-packages/circus"))[0]
    source = (root / "plugins" / "command_reloader.py").read_text()
    files = tmp_path_factory.mktemp("ours")
    package = files / "pkg"
    package.mkdir()
    (package / "original_reloader.py").write_text(source)
    program = files / "app.sh"
    program.write_text("#!/bin/sh\nexec sleep 300\n")
    program.chmod(0o755)
    body = f"""
        [watcher:sleeper]
        cmd = sleep 300
        use_papa = false

        [watcher:app]
        cmd = {program}
        use_papa = false
        autostart = false

        [plugin:reloader]
        use = original_reloader.CommandReloader
        loop_rate = 1
        active = false
    """
    # circusd and its plugin import the original module from PYTHONPATH
    with shared_circusd(files / "d", body, env={"PYTHONPATH": str(package)}) as shared:
        shared.program = program
        yield shared


@pytest.fixture
def shared(ours):
    with ours.test():
        yield ours


def test_original_plugins_against_our_circusd(shared, udp, running):
    d = shared.daemon
    port = udp.getsockname()[1]
    for use, options in (
        ("circus.plugins.statsd.StatsdEmitter", "application_name:emit"),
        ("circus.plugins.statsd.FullStats", "application_name:full:::loop_rate:0.5"),
    ):
        running.append(subprocess.Popen(
            [str(ORIGINAL_PLUGIN), "--endpoint", d.endpoint, "--pubsub", d.pubsub,
             "--config", f"host:127.0.0.1:::port:{port}:::{options}", use],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
    seen: list[str] = []

    def counted() -> bool:  # their subscription joins a moment after their start
        d.ok("incr", name="sleeper")
        return "circus.emit.watcher.sleeper.spawn:1|c" in _drain(udp, seen)

    wait_for(counted, timeout=60, interval=0.5, message="the original emitter counts")
    # the original FullStats calls our `stats` and reads our reply
    wait_for(lambda: any(m.startswith("circus.full.watcher._stats.sleeper.mem_sum:")
                         for m in _drain(udp, seen)), timeout=60)  # fmt: skip
    assert "circus.full.watcher._stats.error:1|c" not in seen
    assert all(proc.poll() is None for proc in running)  # no crash on our replies


def test_our_plugin_against_the_original_circusd(tmp_path, runtime_dir, running):
    (tmp_path / "mylogger.py").write_text(support.MANUAL_LOGGER)
    endpoint, pubsub = f"ipc://{tmp_path}/ctl.sock", f"ipc://{tmp_path}/pub.sock"
    config = tmp_path / "circus.ini"
    config.write_text(
        f"[circus]\nendpoint = {endpoint}\npubsub_endpoint = {pubsub}\n"
        "[watcher:sleeper]\ncmd = sleep 300\n"
    )
    events = tmp_path / "events.log"
    with sc.daemon([str(ORIGINAL_CIRCUSD)], config, endpoint):
        running.append(subprocess.Popen(
            [sys.executable, "-m", "circus.cli.plugin", "--endpoint", endpoint, "--pubsub", pubsub,
             "--config", f"filename:{events}", "mylogger.Logger"],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip

        def logged() -> bool:  # an incr on the wire (a circusctl run would be a Python start)
            assert sc.ask(endpoint, "incr", name="sleeper").get("status") == "ok"
            return events.exists() and "spawn sleeper::{'process_pid': " in events.read_text()

        wait_for(logged, timeout=60, interval=0.5, message="our plugin logs the original's events")
        running[0].send_signal(signal.SIGTERM)
        assert running[0].wait(20) == 0  # handle_stop ran, clean exit


def test_an_original_plugin_module_runs_unchanged_under_our_circusd(shared):
    """The original's own command_reloader.py (from circus 0.19, loaded as a module of its own)
    imports what it needs from our circus (CircusPlugin, ``from circus import logger``,
    ``circus.util.AsyncPeriodicCallback``) and restarts a watcher whose program changed."""
    d, program = shared.daemon, shared.program
    d.ok("start", name="app", waiting=True)
    d.ok("start", name="plugin:reloader", waiting=True)
    wait_for(lambda: d.ok("status", name="plugin:reloader")["status"] == "active")
    [old] = d.pids("app")
    # the plugin records the mtime on its first look, after circusd answered its get: a
    # second get means the first look is over (under load, the file changed between the
    # first get and the plugin's stat, which then recorded the new mtime: no restart)
    wait_for(lambda: shared.log().count("get {'name': 'app'") >= 2, timeout=30,
             message="first look")  # fmt: skip
    later = time.time() + 10
    os.utime(program, (later, later))
    try:
        wait_for(lambda: d.pids("app") not in ([], [old]), timeout=30, message="restarted")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; circusd's log:\n{shared.log()}") from None
    assert "modified. Restarting." in shared.log()
