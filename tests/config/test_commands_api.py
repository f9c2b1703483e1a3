"""The API the control commands use: convert/validate options, add (watcher_from_options),
set (apply_watcher_options), get/options (watcher_option_values)."""

from __future__ import annotations

import json
import signal

import pytest

from circus.config import (
    WATCHER_OPTIONS,
    HookSpec,
    StreamConfig,
    WatcherConfig,
    apply_watcher_options,
    convert_watcher_option,
    diff_watcher,
    needs_restart,
    watcher_from_options,
    watcher_option_values,
)
from circus.errors import ConfigError


def test_convert_watcher_option():
    assert convert_watcher_option("numprocesses", "3") == 3
    assert convert_watcher_option("stop_signal", "quit") == signal.SIGQUIT
    assert convert_watcher_option("env", {"A": "1"}) == {"A": "1"}
    assert convert_watcher_option("hooks", "before_start:a.b,after_stop:c.d") == {
        "before_start": HookSpec("a.b"),
        "after_stop": HookSpec("c.d"),
    }
    assert convert_watcher_option("rlimit_nofile", 100) == 100
    assert convert_watcher_option("hooks.before_start", "a.b,true") == HookSpec("a.b", True)


def test_convert_watcher_option_errors_name_the_key():
    with pytest.raises(ConfigError) as info:
        convert_watcher_option("numprocess", 3)
    (problem,) = info.value.problems
    assert (problem.key, problem.suggestion) == ("numprocess", "numprocesses")
    with pytest.raises(ConfigError) as info:
        convert_watcher_option("env", {"test": 2}, section="watcher:w")
    assert (
        str(info.value) == "[watcher:w] env: environment variable 'test': expected a string, got 2"
    )


def test_needs_restart_matches_the_original_set():
    live = {
        "numprocesses",
        "warmup_delay",
        "send_hup",
        "stop_signal",
        "stop_children",
        "graceful_timeout",
        "hooks",
        "hooks.before_start",
        "respawn",
        "max_retry",
        "retry_in",
        "singleton",
        "priority",
        "stdout_stream.class",
        "anything_free_form",
    }
    restart = {
        "working_dir",
        "uid",
        "gid",
        "shell",
        "env",
        "cmd",
        "args",
        "max_age",
        "max_age_variance",
        "rlimit_nofile",
        "copy_env",
        "close_child_stdout",
        "use_papa",
    }
    assert not any(needs_restart(k) for k in live)
    assert all(needs_restart(k) for k in restart)


def test_option_specs_are_documented():
    for key, spec in WATCHER_OPTIONS.items():
        assert spec.key == key and spec.doc


def test_watcher_from_options_like_add():
    watcher = watcher_from_options("test2", "sleep 10", None, {"numprocesses": 2, "send_hup": True})
    assert watcher == WatcherConfig(name="test2", cmd="sleep 10", numprocesses=2, send_hup=True)
    with pytest.raises(ConfigError) as info:
        watcher_from_options("w", "x", None, {"priorty": 1, "numprocesses": "x"})
    assert {p.key for p in info.value.problems} == {"priorty", "numprocesses"}
    with pytest.raises(ConfigError, match="needs a name"):
        watcher_from_options("", "x")
    with pytest.raises(ConfigError, match="cmd"):
        watcher_from_options("w", "")


def test_watcher_from_options_uses_the_configs_env_and_sockets(load):
    config = load("[socket:web]\nport = 0\n[env]\nA = 1\n[env:new*]\nB = 2\n")
    watcher = watcher_from_options(
        "newone",
        "run $(circus.env.b)",
        ["--fd", "$(circus.sockets.web)"],
        {"use_sockets": True, "env": {"C": "3"}},
        config,
    )
    assert watcher.env == {"A": "1", "B": "2", "C": "3"}
    assert watcher.cmd == "run 2"
    with pytest.raises(ConfigError, match="use_papa = false but its socket 'web'"):
        watcher_from_options(
            "n", "run $(circus.sockets.web)", None, {"use_sockets": True, "use_papa": False}, config
        )
    with pytest.raises(ConfigError, match="not defined"):
        watcher_from_options("n", "run $(circus.sockets.nope)", None, {"use_sockets": True}, config)


def test_apply_watcher_options_like_set():
    watcher = WatcherConfig(
        name="w",
        cmd="x",
        env={"A": "1"},
        stdout_stream=StreamConfig("FileStream", {"filename": "a"}),
    )
    updated = apply_watcher_options(
        watcher, {"numprocesses": "4", "env": {"B": "2"}, "stdout_stream.filename": "b"}
    )
    assert updated.numprocesses == 4
    assert updated.env == {"B": "2"}  # a whole mapping replaces the old one
    assert updated.stdout_stream == StreamConfig("FileStream", {"filename": "b"})
    change = diff_watcher(watcher, updated)
    assert change.keys == {"numprocesses", "env", "stdout_stream"} and change.restart
    assert watcher.numprocesses == 1  # frozen: the original is untouched


def test_apply_watcher_options_is_all_or_nothing():
    watcher = WatcherConfig(name="w", cmd="x", singleton=True)
    with pytest.raises(ConfigError) as info:
        apply_watcher_options(watcher, {"numprocesses": 2, "graceful_timeout": "x", "nope": 1})
    assert {p.key for p in info.value.problems} == {"numprocesses", "graceful_timeout", "nope"}
    with pytest.raises(ConfigError, match="options must be an object"):
        apply_watcher_options(watcher, ["numprocesses"])


def test_watcher_option_values_for_options_and_get():
    watcher = WatcherConfig(
        name="w",
        cmd="x",
        env={"A": "1"},
        hooks={"before_start": HookSpec("a.b", True)},
        stdout_stream=StreamConfig("FileStream", {"filename": "f", "max_bytes": 10}),
        flapping={"max_retry": 2},
        options={"custom": "c"},
        rlimits={"nofile": None},
    )
    values = watcher_option_values(watcher)
    json.dumps(values)  # JSON-friendly
    assert values["numprocesses"] == 1 and values["stop_signal"] == 15
    assert values["env"] == {"A": "1"}
    assert values["hooks"] == {"before_start": "a.b,true"}
    assert values["stdout_stream_conf"] == {"class": "FileStream", "filename": "f", "max_bytes": 10}
    assert values["stderr_stream_conf"] == {}
    assert values["flapping.max_retry"] == 2 and values["custom"] == "c"
    assert values["rlimits"] == {"nofile": None}
    original = {
        "numprocesses",
        "warmup_delay",
        "working_dir",
        "uid",
        "gid",
        "send_hup",
        "stop_signal",
        "stop_children",
        "shell",
        "shell_args",
        "env",
        "max_retry",
        "cmd",
        "args",
        "respawn",
        "graceful_timeout",
        "executable",
        "use_sockets",
        "priority",
        "copy_env",
        "singleton",
        "stdout_stream_conf",
        "on_demand",
        "stderr_stream_conf",
        "max_age",
        "max_age_variance",
        "close_child_stdin",
        "close_child_stdout",
        "close_child_stderr",
    }
    assert original <= set(values)
