"""CircusPlugin against a real circusd: the manual's Logger verbatim (run by circusd from a
[plugin:NAME] section, and by hand with circus-plugin), call() and cast(), and the
circus-plugin command line.

The three tests against a circusd share one (shared_daemon.py) whose config has their watchers
and plugins."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import circusctl_output
import psutil
import pytest
from circusctl_output import ORIGINAL_CIRCUSCTL
from shared_daemon import shared_circusd
from support import WORKER_CMD, wait_for

from circus.cli import circusctl
from circus.cli import plugin as circus_plugin

pytestmark = pytest.mark.timeout(90)
CIRCUS_PLUGIN = [sys.executable, "-m", "circus.cli.plugin"]
EVENT_LINE = re.compile(r"^(\w+) (\S+)::(\{.*\})$")


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _wait_subscribed(d, path: Path, watcher: str) -> None:
    """ZeroMQ subscriptions join late: poke ``watcher`` (an ``updated`` event) until the
    plugin has written one."""

    def seen() -> bool:
        d.ok("set", name=watcher, options={"graceful_timeout": 3})
        return any(line.startswith(f"updated {watcher}::") for line in _lines(path))

    wait_for(seen, timeout=30, interval=0.3, message="the plugin receives events")


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory, module_plugin_package):
    workdir = tmp_path_factory.mktemp("plugin_api")
    # graceful_timeout = 3: what the tests set to make an ``updated`` event (no change)
    body = f"""
        [watcher:sleeper]
        cmd = {WORKER_CMD} sleep
        use_papa = false
        graceful_timeout = 3

        [plugin:logger]
        use = myproject.plugins.Logger
        filename = {workdir}/circus-events.log

        [watcher:trigger]
        cmd = {WORKER_CMD} sleep
        use_papa = false
        graceful_timeout = 3

        [watcher:target]
        cmd = {WORKER_CMD} sleep
        use_papa = false

        [plugin:caller]
        use = myproject.testplugins.Caller
        out = {workdir}/calls.jsonl
    """
    env = {"PYTHONPATH": str(module_plugin_package)}
    with shared_circusd(workdir, body, env=env) as shared:
        shared.files = workdir
        yield shared


@pytest.fixture
def shared(module_daemon):
    """The module's circusd, as it started (checked before the test, put back after)."""
    with module_daemon.test():
        yield module_daemon


def test_manual_logger_runs_as_plugin_watcher(shared, capsys):
    d, events = shared.daemon, shared.files / "circus-events.log"
    # the plugin is a watcher named plugin:NAME, listed like any other (as the original)
    assert "plugin:logger" in d.ok("list")["watchers"]
    wait_for(lambda: d.ok("status", name="plugin:logger")["status"] == "active")
    [plugin_pid] = d.pids("plugin:logger")
    # a direct child of circusd (use_papa = false), not of the kernel
    assert plugin_pid in [child.pid for child in psutil.Process(d.proc.pid).children()]
    _wait_subscribed(d, events, "sleeper")

    [old] = d.pids("sleeper")
    d.ok("restart", name="sleeper")
    wait_for(lambda: d.pids("sleeper") not in ([], [old]), message="sleeper restarted")
    [new] = d.pids("sleeper")
    wait_for(lambda: any(line.startswith(f"spawn sleeper::{{'process_pid': {new},")
                         for line in _lines(events)), message="spawn event logged")  # fmt: skip
    lines = _lines(events)
    assert any(line.startswith(f"reap sleeper::{{'process_pid': {old},") for line in lines)
    for line in lines:  # '%s %s::%r\n' % (action, watcher_name, msg_dict)
        assert EVENT_LINE.match(line), line

    assert circusctl.main(["--endpoint", d.endpoint, "status"]) == 0  # in this process
    assert "plugin:logger: active" in capsys.readouterr().out.splitlines()
    if ORIGINAL_CIRCUSCTL.exists():
        theirs = circusctl_output.circusctl([str(ORIGINAL_CIRCUSCTL)], d.endpoint, "status")
        assert "plugin:logger: active" in theirs.splitlines()

    # stopping the watcher stops the plugin cleanly: handle_stop, then exit 0
    d.ok("stop", name="plugin:logger", waiting=True)
    exited = f"plugin:logger: process {plugin_pid} (wid 1) exited with 0"
    wait_for(lambda: exited in shared.log())
    assert f"circus.plugin[{plugin_pid}] [INFO] Stopping" in shared.log()


def test_manual_logger_by_hand_with_circus_plugin(shared, tmp_path, plugin_package):
    """The manual's 'Trying a plugin' command line."""
    d, events = shared.daemon, tmp_path / "circus-events.log"
    output = tmp_path / "plugin.out"
    with open(output, "wb") as out:
        proc = subprocess.Popen(
            [*CIRCUS_PLUGIN, "--endpoint", d.endpoint, "--pubsub", d.pubsub,
             "--config", f"filename:{events}", "myproject.plugins.Logger"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_subscribed(d, events, "sleeper")
        d.ok("incr", name="sleeper")
        wait_for(lambda: any(line.startswith("spawn sleeper::") for line in _lines(events)))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = output.read_text()
    for expected in ("Loading the plugin...", f"Endpoint: '{d.endpoint}'",
                     f"Pub/sub: '{d.pubsub}'", "Starting", "Stopping"):  # fmt: skip
        assert expected in text, text


def test_call_and_cast(shared):
    d, out = shared.daemon, shared.files / "calls.jsonl"
    wait_for(lambda: d.ok("status", name="plugin:caller")["status"] == "active")
    seen = len(_lines(out))

    def called() -> bool:
        d.ok("set", name="trigger", options={"graceful_timeout": 3})
        return len(_lines(out)) > seen

    wait_for(called, timeout=30, interval=0.3, message="the plugin called circusd")
    # the sets made before the plugin had subscribed were lost, later ones may still be on
    # their way (each is one more incr): one more set, stamped after all of them, is handled
    # last (events come in order), so once it is seen no incr is left to come
    sent = time.time()
    d.ok("set", name="trigger", options={"graceful_timeout": 3})
    wait_for(lambda: any(json.loads(line)["event_time"] >= sent for line in _lines(out)[seen:]),
             message="the plugin handled the last event")  # fmt: skip
    reply = json.loads(_lines(out)[seen])
    assert reply["status"] == "ok"
    assert sorted(reply["watchers"]) == [
        "plugin:caller", "plugin:logger", "sleeper", "target", "trigger"
    ]  # fmt: skip
    wait_for(lambda: d.ok("numprocesses", name="target")["numprocesses"] >= 2,
             message="the cast incr was applied")  # fmt: skip
    # one incr per event handled: wait for the last (the fixture then puts target back)
    wait_for(lambda: d.ok("numprocesses", name="target")["numprocesses"]
             == 1 + len(_lines(out)) - seen, message="every cast applied")  # fmt: skip


def test_circus_plugin_config_forms_and_errors(tmp_path, plugin_package, capsys):
    record = tmp_path / "record.json"
    # the original's KEY:VALUE:::KEY2:VALUE2 form and repeated --config; values keep colons
    proc = subprocess.Popen(
        [*CIRCUS_PLUGIN, "--endpoint", f"ipc://{tmp_path}/none.sock", "--pubsub",
         f"ipc://{tmp_path}/none-pub.sock", "--check-delay", "2.5",
         "--config", f"out:{record}:::a:1", "--config", "url:http://x:80/",
         "myproject.testplugins.Recorder"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: record.exists() and record.read_text(), message="plugin started")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    seen = json.loads(record.read_text())
    assert seen["config"] == {"out": str(record), "a": "1", "url": "http://x:80/"}
    assert seen["check_delay"] == 2.5

    # what it answers before it starts anything: in this process
    capsys.readouterr()
    assert circus_plugin.main(["--config", "nocolon", "x.Y"]) == 2
    assert "--config 'nocolon': expected KEY:VALUE" in capsys.readouterr().err
    assert circus_plugin.main([]) == 2
    assert "dotted name is required" in capsys.readouterr().err
    assert circus_plugin.main(["--version"]) == 0
    assert capsys.readouterr().out.strip()


def test_circus_plugin_reports_import_errors_with_traceback(tmp_path, plugin_package):
    env = {**os.environ, "BREAK_PLUGIN_IMPORT": "1"}
    result = subprocess.run([*CIRCUS_PLUGIN, "myproject.testplugins.Recorder"], env=env,
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode == 3
    assert "plugin myproject.testplugins.Recorder cannot be loaded" in result.stdout
    assert "Traceback (most recent call last)" in result.stdout
    assert "BREAK_PLUGIN_IMPORT" in result.stdout
    result = subprocess.run([*CIRCUS_PLUGIN, "myproject.testplugins.Nope"], capture_output=True,
                            text=True, timeout=30)  # fmt: skip
    assert result.returncode == 3
    assert "has no attribute 'Nope'" in result.stdout
