"""diff(old, new): added/removed/changed watchers, sockets, plugins; live vs restart."""

from __future__ import annotations

import pytest

from circus.config import ConfigDiff, WatcherConfig, diff, diff_watcher

BASE = """
[circus]
check_delay = 5
[watcher:web]
cmd = run --fd $(circus.sockets.web)
use_sockets = true
numprocesses = 2
[watcher:worker]
cmd = work
[socket:web]
port = 8000
[plugin:flapping]
use = circus.plugins.flapping.Flapping
"""


def test_same_file_twice_is_equal_and_diff_is_empty(load):
    old, new = load(BASE), load(BASE)
    assert old == new and hash(old) == hash(new)
    assert diff(old, new) == ConfigDiff()
    assert diff(old, new).empty and not diff(old, new)


def test_added_and_removed(load):
    old = load(BASE)
    new = load(
        BASE.replace("[watcher:worker]\ncmd = work\n", "[watcher:Other]\ncmd = other\n").replace(
            "[plugin:flapping]", "[plugin:statsd]"
        )
        + "[socket:admin]\nport = 9000\n"
    )
    result = diff(old, new)
    assert result.watchers_added == ("Other",) and result.watchers_removed == ("worker",)
    assert result.sockets_added == ("admin",) and result.sockets_removed == ()
    assert result.plugins_added == ("statsd",) and result.plugins_removed == ("flapping",)
    assert result.watchers_changed == () and result.circus == frozenset()


def test_numprocesses_only_is_live(load):
    result = diff(load(BASE), load(BASE.replace("numprocesses = 2", "numprocesses = 5")))
    (change,) = result.watchers_changed
    assert change.name == "web" and change.keys == {"numprocesses"} and change.live_only


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("graceful_timeout = 3", "graceful_timeout"),
        ("stop_signal = QUIT", "stop_signal"),
        ("hooks.before_start = a.b", "hooks"),
        ("stdout_stream.class = StdoutStream", "stdout_stream"),
        ("priority = 3", "priority"),
        ("respawn = false", "respawn"),
        ("max_retry = 1", "max_retry"),
        ("flapping.max_retry = 1", "flapping"),
        ("custom_plugin_key = 1", "options"),
        ("warmup_delay = 1", "warmup_delay"),
    ],
)
def test_live_changes(load, line, key):
    result = diff(load(BASE), load(BASE.replace("cmd = work", f"cmd = work\n{line}")))
    (change,) = result.watchers_changed
    assert change.keys == {key} and not change.restart


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("args = --fast", "args"),
        ("working_dir = /srv", "working_dir"),
        ("uid = 1000", "uid"),
        ("gid = 1000", "gid"),
        ("shell = true", "shell"),
        ("copy_env = true", "copy_env"),
        ("rlimit_nofile = 100", "rlimits"),
        ("use_papa = false", "use_papa"),
        ("max_age = 60", "max_age"),
        ("close_child_stdout = true", "close_child_stdout"),
        ("executable = /bin/work", "executable"),
    ],
)
def test_restart_changes(load, line, key):
    result = diff(load(BASE), load(BASE.replace("cmd = work", f"cmd = work\n{line}")))
    (change,) = result.watchers_changed
    assert key in change.keys and change.restart


def test_cmd_and_env_changes_restart(load):
    result = diff(
        load(BASE), load(BASE.replace("cmd = work", "cmd = work2") + "[env:worker]\nA = 1\n")
    )
    (change,) = result.watchers_changed
    assert change.keys == {"cmd", "env"} and change.restart


def test_changed_socket_restarts_the_watchers_using_it(load):
    result = diff(load(BASE), load(BASE.replace("port = 8000", "port = 8001")))
    assert result.sockets_changed == ("web",)
    (change,) = result.watchers_changed
    assert change.name == "web" and change.keys == frozenset() and change.sockets == {"web"}
    assert change.restart


def test_case_only_rename_is_a_live_change_of_name(load):
    result = diff(load(BASE), load(BASE.replace("[watcher:worker]", "[watcher:Worker]")))
    (change,) = result.watchers_changed
    assert change.name == "Worker" and change.keys == {"name"} and not change.restart
    assert result.watchers_added == () == result.watchers_removed


def test_circus_and_plugin_changes(load):
    new = load(BASE.replace("check_delay = 5", "check_delay = 1") + "window = 10\n")
    result = diff(load(BASE), new)
    assert result.circus == {"check_delay"}
    assert result.plugins_changed == ("flapping",)


def test_diff_watcher_directly():
    old = WatcherConfig(name="w", cmd="x")
    assert diff_watcher(old, old) is None
    change = diff_watcher(old, WatcherConfig(name="w", cmd="x", numprocesses=3, stop_children=True))
    assert change.keys == {"numprocesses", "stop_children"} and change.live_only
