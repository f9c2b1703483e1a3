"""[plugin:NAME] sections as support watchers ``plugin:NAME`` of a real circusd: what the plugin
is given, watcher options, ``active``, a plugin that cannot import or start (logged with its
traceback, shown stopped, circusd unharmed), --check-config, and reloadconfig.

The first tests share one circusd (shared_daemon.py) whose config has their plugins; the
reload and SIGKILL tests keep their own."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import pytest
from shared_daemon import shared_circusd
from support import WORKER_CMD, kill_pids, wait_for

from circus.cli import check_config, circusctl

pytestmark = pytest.mark.timeout(120)


def _status(d, name: str) -> str:
    return d.ok("status", name=name)["status"]


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


#: The plugins that cannot start (``[plugin:NAME]`` body) and what the log must say of them.
BROKEN = {
    "bad-import": (
        "use = myproject.testplugins.Recorder\nout = /dev/null\n[env:plugin:bad-import]\n"
        "BREAK_PLUGIN_IMPORT = 1\n",
        "ImportError: this plugin cannot be imported here (BREAK_PLUGIN_IMPORT)",
    ),
    "bad-init": (
        "use = myproject.testplugins.BrokenInit\nwhy = no database\n",
        "RuntimeError: handle_init refuses: no database",
    ),
}


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory, module_plugin_package):
    workdir = tmp_path_factory.mktemp("plugins")
    body = f"""
        [plugin:rec]
        use = myproject.testplugins.Recorder
        out = {workdir}/rec.json
        token = $(circus.env.plugin_token)
        graceful_timeout = 4
        priority = 7

        [plugin:inactive]
        use = myproject.testplugins.Recorder
        active = false
        out = {workdir}/inactive.json

        [watcher:app]
        cmd = {WORKER_CMD} sleep
        use_papa = false
    """
    body = textwrap.dedent(body)
    for name, (section, _) in BROKEN.items():
        body += f"\n[plugin:{name}]\n{section}"
    env = {"PYTHONPATH": str(module_plugin_package), "PLUGIN_TOKEN": "s3cret"}
    # the broken plugins are stopped once they failed: the shared state is recorded after
    extra = "check_delay = 2\n"
    with shared_circusd(workdir, body, extra, env=env, settle=_broken_stopped) as shared:
        shared.files = workdir
        yield shared


def _broken_stopped(d) -> bool:
    return all(_status(d, f"plugin:{name}") == "stopped" for name in BROKEN)


@pytest.fixture
def shared(module_daemon):
    """The module's circusd, as it started (checked before the test, put back after)."""
    with module_daemon.test():
        yield module_daemon


def test_plugin_gets_its_keys_and_circusd_endpoints(shared):
    d, out = shared.daemon, shared.files / "rec.json"
    wait_for(lambda: _read_json(out) is not None, message="the plugin started")
    seen = _read_json(out)
    # every key but use, active and the watcher options, after $(circus.env.*) substitution
    assert seen["config"] == {"out": str(out), "token": "s3cret"}
    assert seen["check_delay"] == 2.0
    assert (seen["endpoint"], seen["pubsub"]) == (d.endpoint, d.pubsub)
    options = d.ok("options", name="plugin:rec")["options"]
    assert options["graceful_timeout"] == 4 and options["priority"] == 7
    assert options["singleton"] and options["copy_env"] and not options["use_papa"]


def test_inactive_plugin_is_a_stopped_watcher(shared):
    d, out = shared.daemon, shared.files / "inactive.json"
    out.unlink(missing_ok=True)
    assert _status(d, "plugin:inactive") == "stopped"
    d.ok("start", name="plugin:inactive")
    wait_for(lambda: _read_json(out) is not None, message="started by hand")
    assert "active" not in _read_json(out)["config"]


@pytest.mark.parametrize("name", list(BROKEN))
def test_plugin_that_cannot_start_is_logged_and_stopped(shared, name, capsys):
    d, expected = shared.daemon, BROKEN[name][1]
    wait_for(lambda: _status(d, f"plugin:{name}") == "stopped" and expected in d.log(),
             timeout=60, message="the broken plugin is stopped")  # fmt: skip
    log = d.log()
    stop = re.search(rf"circus\.plugin\[(\d+)\] \[ERROR\] asking circusd to stop plugin:{name}: "
                     "the plugin could not start", log)  # fmt: skip
    assert stop, log
    # its own error: from the plugin process's first error to its request to be stopped
    error = log[log.index(f"circus.plugin[{stop.group(1)}] [ERROR]") : stop.start()]
    assert "Traceback (most recent call last)" in error and expected in error, error
    # circusd and the other watchers are unharmed
    assert _status(d, "app") == "active" and d.proc.poll() is None
    assert circusctl.main(["--endpoint", d.endpoint, "status"]) == 0
    assert f"plugin:{name}: stopped" in capsys.readouterr().out.splitlines()


def test_check_config_reports_plugin_import_errors(tmp_path, plugin_package, monkeypatch, capsys):
    config = tmp_path / "circus.ini"
    config.write_text(
        "[plugin:nomodule]\n"
        "use = nomodule.Plugin\n"  # 2
        "[plugin:noclass]\n"
        "use = myproject.plugins.NoSuchPlugin\n"  # 4
        "[plugin:fine]\n"
        "use = myproject.plugins.Logger\n"
    )
    monkeypatch.syspath_prepend(str(plugin_package))  # in this process: its output is tested
    try:
        code = check_config.main([str(config)])
    finally:
        for module in [m for m in sys.modules if m == "myproject" or m.startswith("myproject.")]:
            del sys.modules[module]
    output = "".join(capsys.readouterr())
    assert code == 1, output
    assert f"{config}:2 [plugin:nomodule] use: plugin class 'nomodule.Plugin'" in output
    assert "No module named 'nomodule'" in output
    assert f"{config}:4 [plugin:noclass] use: plugin class 'myproject.plugins.NoSuchPlugin'" in (
        output
    )
    assert "has no attribute 'NoSuchPlugin'" in output
    assert "[plugin:fine]" not in output


def test_reloadconfig_adds_removes_and_changes_plugins(circusd, plugin_package, tmp_path):
    files = {name: tmp_path / f"{name}.json" for name in ("a", "b", "c")}

    def body(plugins: dict[str, str]) -> str:
        # min_uptime = 0.2: the reload waits that long for a restarted plugin to be up (1 s
        # by default), which is not what the test is about
        return "".join(
            f"[plugin:{name}]\nuse = myproject.testplugins.Recorder\nout = {files[name]}\n"
            f"min_uptime = 0.2\n{extra}\n"
            for name, extra in plugins.items()
        )

    d = circusd(body({"a": "", "c": "x = 1"}))
    wait_for(lambda: _read_json(files["a"]) and _read_json(files["c"]))
    [a_pid] = d.pids("plugin:a")
    [c_pid] = d.pids("plugin:c")

    d.write_config(body({"b": "", "c": "x = 2"}))
    changes = d.ok("reloadconfig", waiting=True)["changes"]
    assert "plugin:a" in changes["removed"] and "plugin:b" in changes["added"]
    assert "plugin:c" in changes["changed"]
    assert sorted(d.ok("list")["watchers"]) == ["plugin:b", "plugin:c"]
    wait_for(lambda: _read_json(files["b"]) is not None, message="plugin b started")
    wait_for(lambda: (_read_json(files["c"]) or {}).get("config", {}).get("x") == "2",
             message="plugin c restarted with its new option")  # fmt: skip
    assert d.pids("plugin:c") != [c_pid]
    wait_for(lambda: not _alive(a_pid), message="plugin a's process ended")


def _alive(pid: int) -> bool:
    from support import pid_alive

    return pid_alive(pid)


def test_plugin_ends_with_a_killed_circusd(circusd, plugin_package, tmp_path):
    """A plugin is a direct child of circusd and does not outlive it, even after SIGKILL (the
    next circusd would start a second one)."""
    out = tmp_path / "rec.json"
    d = circusd(f"[plugin:rec]\nuse = myproject.testplugins.Recorder\nout = {out}\n")
    wait_for(lambda: _read_json(out) is not None, message="the plugin started")
    [pid] = d.pids("plugin:rec")
    d.kill9()
    try:
        wait_for(lambda: not _alive(pid), timeout=20, message="the plugin ended with circusd")
    finally:
        kill_pids([pid])  # not left behind if it failed
