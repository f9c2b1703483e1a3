"""Spawn-time substitution and the argv builder."""

from __future__ import annotations

import pytest

from circus.config import WatcherConfig, build_argv, spawn_variables, substitute
from circus.config.substitution import expand_shell_vars, referenced_sockets
from circus.errors import ConfigError


def test_substitute_both_syntaxes_case_insensitively():
    variables = {"wid": 3, "sockets.web": 7}
    text = (
        "run $(circus.wid) ((CIRCUS.WID)) --fd $(Circus.Sockets.WEB) $(circus.unknown) ((circus.x))"
    )
    assert substitute(text, variables) == "run 3 3 --fd 7 $(circus.unknown) ((circus.x))"


def test_substitute_leaves_other_dollar_syntax_alone():
    assert (
        substitute("$(other.wid) $WID ${HOME} $(circus.wid", {"wid": 1})
        == "$(other.wid) $WID ${HOME} $(circus.wid"
    )


def test_referenced_sockets():
    assert referenced_sockets(
        "a $(circus.sockets.Web) ((circus.sockets.b-1.x))", ["$(circus.sockets.c)"], None
    ) == {
        "web",
        "b-1.x",
        "c",
    }


def test_expand_shell_vars():
    env = {"A": "1", "B_2": "two"}
    assert expand_shell_vars("$A:${B_2}:$C:$$A:$", env) == "1:two::$A:$"


def _watcher(**kwargs):
    return WatcherConfig(name="web", **{"cmd": "run", **kwargs})


def test_spawn_variables():
    watcher = _watcher(
        cmd="run",
        env={"Home": "/h"},
        working_dir="/srv",
        rlimits={"nofile": 10, "core": None},
        numprocesses=4,
        options={"custom": "c"},
        use_sockets=True,
    )
    variables = spawn_variables(watcher, wid=2, sockets={"Web": 5})
    assert variables["wid"] == 2
    assert variables["sockets.web"] == 5
    assert variables["env.home"] == "/h"
    assert variables["working_dir"] == "/srv"
    assert variables["rlimits.nofile"] == 10 and variables["rlimits.core"] == "unlimited"
    assert variables["numprocesses"] == 4
    assert variables["custom"] == "c"
    assert variables["name"] == "web"
    assert variables["use_fds"] is True
    assert "env" not in variables
    # the process env can be given explicitly (e.g. with PYTHONPATH added at spawn)
    assert spawn_variables(watcher, 1, env={"X": "y"})["env.x"] == "y"


def test_build_argv():
    watcher = _watcher(
        cmd="python -u 'my app.py' $(circus.wid)",
        args="--fd $(circus.sockets.web) --name '$(circus.env.who)'",
    )
    variables = spawn_variables(watcher, wid=3, sockets={"web": 9}, env={"WHO": "a b"})
    assert build_argv(watcher, variables) == (
        "python",
        "-u",
        "my app.py",
        "3",
        "--fd",
        "9",
        "--name",
        "a b",
    )


def test_build_argv_with_list_args_and_legacy_wid():
    watcher = _watcher(cmd="worker $WID", args=("--x", "$(circus.wid) and spaces"))
    assert build_argv(watcher, spawn_variables(watcher, 4)) == (
        "worker",
        "4",
        "--x",
        "4 and spaces",
    )


def test_build_argv_with_shell():
    watcher = _watcher(cmd="echo $HOME | tr a b", args="$(circus.wid)", shell=True, shell_args="-x")
    assert build_argv(watcher, spawn_variables(watcher, 5)) == (
        "/bin/sh",
        "-c",
        "echo $HOME | tr a b 5",
        "-x",
    )
    listed = _watcher(cmd="printf %s", args=("a b", "c"), shell=True)
    assert build_argv(listed, spawn_variables(listed, 1)) == ("/bin/sh", "-c", "printf %s 'a b' c")


def test_build_argv_reports_broken_quoting_after_substitution():
    watcher = _watcher(cmd="run $(circus.env.q)")
    with pytest.raises(ConfigError) as info:
        build_argv(watcher, spawn_variables(watcher, 1, env={"Q": "'unbalanced"}))
    (problem,) = info.value.problems
    assert (problem.section, problem.key) == ("watcher:web", "cmd")
    assert "No closing quotation" in problem.message


def test_build_argv_refuses_an_empty_command():
    watcher = _watcher(cmd="$(circus.env.nothing)")
    with pytest.raises(ConfigError, match="empty"):
        build_argv(watcher, spawn_variables(watcher, 1, env={"NOTHING": ""}))
