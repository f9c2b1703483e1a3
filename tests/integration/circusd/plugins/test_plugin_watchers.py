"""[plugin:NAME] sections as support watchers ``plugin:NAME`` of a real circusd: what the plugin
is given, watcher options, ``active``, a plugin that cannot import or start (logged with its
traceback, shown stopped, circusd unharmed), --check-config, and reloadconfig."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import kill_pids, wait_for

pytestmark = pytest.mark.timeout(120)


def _status(d, name: str) -> str:
    return d.ok("status", name=name)["status"]


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def test_plugin_gets_its_keys_and_circusd_endpoints(circusd, plugin_package, tmp_path,
                                                    monkeypatch):  # fmt: skip
    monkeypatch.setenv("PLUGIN_TOKEN", "s3cret")
    out = tmp_path / "rec.json"
    d = circusd(
        f"""
        [plugin:rec]
        use = myproject.testplugins.Recorder
        out = {out}
        token = $(circus.env.plugin_token)
        graceful_timeout = 4
        priority = 7
        """,
        circus_extra="check_delay = 2\n",
    )
    wait_for(lambda: _read_json(out) is not None, message="the plugin started")
    seen = _read_json(out)
    # every key but use, active and the watcher options, after $(circus.env.*) substitution
    assert seen["config"] == {"out": str(out), "token": "s3cret"}
    assert seen["check_delay"] == 2.0
    assert (seen["endpoint"], seen["pubsub"]) == (d.endpoint, d.pubsub)
    options = d.ok("options", name="plugin:rec")["options"]
    assert options["graceful_timeout"] == 4 and options["priority"] == 7
    assert options["singleton"] and options["copy_env"] and not options["use_papa"]


def test_inactive_plugin_is_a_stopped_watcher(circusd, plugin_package, tmp_path):
    out = tmp_path / "rec.json"
    d = circusd(f"""
        [plugin:rec]
        use = myproject.testplugins.Recorder
        active = false
        out = {out}
    """)
    assert _status(d, "plugin:rec") == "stopped" and not out.exists()
    d.ok("start", name="plugin:rec")
    wait_for(lambda: _read_json(out) is not None, message="started by hand")
    assert "active" not in _read_json(out)["config"]


@pytest.mark.parametrize(
    "section, expected",
    [
        (
            "use = myproject.testplugins.Recorder\nout = /dev/null\n[env:plugin:bad]\n"
            "BREAK_PLUGIN_IMPORT = 1\n",
            "ImportError: this plugin cannot be imported here (BREAK_PLUGIN_IMPORT)",
        ),
        (
            "use = myproject.testplugins.BrokenInit\nwhy = no database\n",
            "RuntimeError: handle_init refuses: no database",
        ),
    ],
    ids=["import-error", "handle-init-raises"],
)
def test_plugin_that_cannot_start_is_logged_and_stopped(circusd, plugin_package, worker_cmd,
                                                        section, expected):  # fmt: skip
    d = circusd(
        f"[watcher:app]\ncmd = {worker_cmd} sleep\nuse_papa = false\n\n[plugin:bad]\n{section}"
    )
    wait_for(lambda: _status(d, "plugin:bad") == "stopped" and expected in d.log(),
             timeout=60, message="the broken plugin is stopped")  # fmt: skip
    log = d.log()
    assert "Traceback (most recent call last)" in log
    assert "asking circusd to stop plugin:bad: the plugin could not start" in log
    # circusd and the other watchers are unharmed
    assert _status(d, "app") == "active" and d.proc.poll() is None
    status = subprocess.run(
        [sys.executable, "-m", "circus.cli.circusctl", "--endpoint", d.endpoint, "status"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert "plugin:bad: stopped" in status.stdout.splitlines()


def test_check_config_reports_plugin_import_errors(tmp_path, plugin_package):
    config = tmp_path / "circus.ini"
    config.write_text(
        "[plugin:nomodule]\n"
        "use = nomodule.Plugin\n"  # 2
        "[plugin:noclass]\n"
        "use = myproject.plugins.NoSuchPlugin\n"  # 4
        "[plugin:fine]\n"
        "use = myproject.plugins.Logger\n"
    )
    result = subprocess.run([sys.executable, "-m", "circus.cli.circusd", "--check-config",
                             str(config)], capture_output=True, text=True, timeout=30)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
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
        return "".join(
            f"[plugin:{name}]\nuse = myproject.testplugins.Recorder\nout = {files[name]}\n{extra}\n"
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
