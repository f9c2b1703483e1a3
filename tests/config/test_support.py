"""circus.config.support: [plugin:NAME] becomes the support watcher plugin:NAME, and the
provider mechanism that statsd = true and httpd = true use."""

from __future__ import annotations

import sys

import pytest

from circus.config import SocketConfig, config_from_dict, load_config, support
from circus.errors import ConfigError

pytestmark = pytest.mark.timeout(30)


def _load(tmp_path, text: str, environ=None):
    path = tmp_path / "circus.ini"
    path.write_text(text)
    return load_config(path, environ=environ or {"HOME": "/home/x"}, import_names=False)


def test_plugin_section_becomes_a_support_watcher(tmp_path):
    config = _load(
        tmp_path,
        "[circus]\nendpoint = ipc:///e.sock\npubsub_endpoint = ipc:///p.sock\ncheck_delay = 2\n"
        "loglevel = warning\n"
        "[env]\nTOKEN = t0k\n"
        "[plugin:statsd]\nuse = some.module.Plugin\nhost = localhost\nport = 8125\n"
        "secret = $(circus.env.token)\ngraceful_timeout = 3\nactive = true\n",
    )
    [watcher] = config.watchers
    assert watcher.name == "plugin:statsd"
    assert (watcher.use_papa, watcher.singleton, watcher.copy_env, watcher.priority) == (
        False,
        True,
        True,
        1,
    )
    assert watcher.graceful_timeout == 3.0 and watcher.autostart
    assert watcher.env["TOKEN"] == "t0k"
    assert watcher.args == (
        "-m", "circus.cli.plugin",
        "--endpoint", "ipc:///e.sock", "--pubsub", "ipc:///p.sock", "--check-delay", "2.0",
        "--watcher", "plugin:statsd",
        "--config", "host:localhost", "--config", "port:8125", "--config", "secret:t0k",
        "--log-level", "warning",
        "some.module.Plugin",
    )  # fmt: skip
    assert watcher.cmd.strip("'") == sys.executable


def test_inactive_plugin_does_not_autostart(tmp_path):
    config = _load(tmp_path, "[plugin:p]\nuse = a.B\nactive = false\n")
    assert not config.get_watcher("plugin:p").autostart
    with pytest.raises(ConfigError, match=r"\[plugin:q\] active"):
        _load(tmp_path, "[plugin:q]\nuse = a.B\nactive = maybe\n")


def test_flapping_runs_in_circusd_not_as_a_process(tmp_path):
    config = _load(tmp_path, "[plugin:flapping]\nuse = circus.plugins.flapping.Flapping\n")
    assert config.watchers == () and config.plugins[0].name == "flapping"


def test_dict_form_plugins(tmp_path):
    config = config_from_dict(
        {"plugins": [{"name": "p", "use": "a.B", "max": 3, "flags": [1, 2]}]},
        environ={},
        import_names=False,
    )
    args = config.get_watcher("plugin:p").args
    assert "max:3" in args and "flags:[1, 2]" in args


def test_a_provider_adds_watchers_and_sockets(tmp_path, monkeypatch):
    """What the stats and webcore helpers do for statsd = true / httpd = true."""

    def stats(config, environ):
        if config.circus.statsd:
            quiet = config.circus.statsd_close_outputs
            yield support.support_watcher(
                "circusd-stats",
                "circus.cli.stats",
                ["--statspoint", config.circus.stats_endpoint],
                config,
                {"close_child_stdout": quiet, "close_child_stderr": quiet},
                environ,
                section="circus",
            )
            yield SocketConfig(name="stats-extra", port=1, use_papa=False)

    monkeypatch.setattr(support, "PROVIDERS", (support.plugin_watchers, stats))
    assert _load(tmp_path, "[watcher:a]\ncmd = x\n").watchers[0].name == "a"
    config = _load(
        tmp_path,
        "[circus]\nstatsd = true\nstatsd_close_outputs = true\n[watcher:a]\ncmd = x\n",
    )
    stats_watcher = config.get_watcher("circusd-stats")
    assert stats_watcher is not None and not stats_watcher.use_papa
    assert stats_watcher.close_child_stdout and stats_watcher.close_child_stderr
    assert stats_watcher.args[:3] == ("-m", "circus.cli.stats", "--statspoint")
    assert [s.name for s in config.sockets] == ["stats-extra"]


def test_a_provider_error_is_a_config_error(tmp_path, monkeypatch):
    def broken(config, environ):
        yield support.support_watcher("x", "m", [], config, {"numprocesses": "many"}, environ)

    monkeypatch.setattr(support, "PROVIDERS", (broken,))
    with pytest.raises(ConfigError, match=r"\[watcher:x\] numprocesses"):
        _load(tmp_path, "[watcher:a]\ncmd = x\n")


def test_curve_keys_go_to_the_plugin(tmp_path):
    server = tmp_path / "server.key_secret"
    server.write_text("")
    config = _load(
        tmp_path,
        f"[circus]\ncurve_secret_key = {server}\ncurve_public_keys = {tmp_path}\n"
        "[plugin:a]\nuse = a.B\n"
        "[plugin:b]\nuse = a.B\ncurve_secret_key = /k/b.key_secret\n",
    )
    a, b = (list(config.get_watcher(f"plugin:{n}").args) for n in "ab")
    # circusd's own certificate unless the section gives one; never a constructor key
    assert a[a.index("--curve-secret-key") + 1] == str(server)
    assert b[b.index("--curve-secret-key") + 1] == "/k/b.key_secret"
    assert b[b.index("--curve-server-key") + 1] == str(server)
    assert not any(arg.startswith("curve_secret_key:") for arg in b)


def test_statsd_interval_is_circusd_stats_interval(tmp_path):
    from circus.cli.circusd_stats import MIN_INTERVAL
    from circus.config.sections import STATS_MIN_INTERVAL

    def interval(circus: str) -> str:
        config = _load(tmp_path, f"[circus]\nstatsd = true\n{circus}[watcher:a]\ncmd = x\n")
        args = list(config.get_watcher("circusd-stats").args)
        return args[args.index("--interval") + 1]

    assert interval("") == "1"  # the original's second
    assert interval("statsd_interval = 250ms\n") == "0.25"
    assert STATS_MIN_INTERVAL == MIN_INTERVAL  # what the config accepts, circusd-stats does
