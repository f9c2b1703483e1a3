"""Error reporting: where (file:line [section] key), what was expected/found, suggestions,
every problem at once, and the rules spanning sections (sockets, use_papa)."""

from __future__ import annotations

from circus.errors import ConfigError, Errno


def test_several_errors_are_reported_at_once_in_file_order(load):
    error = load.error(
        """
        [circus]
        endpoint = http://nope
        [watcher:a]
        cmd = x
        numprocesses = many
        stop_signal = SIGNOPE
        [watcher:b]
        graceful_timeout = soon
        [socket:s]
        port = 99999
        """
    )
    where = [(p.line, p.section, p.key) for p in error.problems]
    assert where == [
        (3, "circus", "endpoint"),
        (6, "watcher:a", "numprocesses"),
        (7, "watcher:a", "stop_signal"),
        (8, "watcher:b", "cmd"),
        (9, "watcher:b", "graceful_timeout"),
        (11, "socket:s", "port"),
    ]
    assert error.errno == Errno.MESSAGE_ERROR
    assert len(str(error).splitlines()) == 6


def test_message_format(load, tmp_path):
    (problem,) = load.problems("[watcher:web]\ncmd = x\nnumprocesses = lots\n")
    assert (
        str(problem)
        == f"{tmp_path}/circus.ini:3 [watcher:web] numprocesses: expected an integer, got 'lots'"
    )


def test_suggestion_in_message(load):
    config = load("[watcher:web]\ncmd = x\ngraceful_timout = 3\n")
    (warning,) = config.warnings
    assert str(warning).endswith(
        "unknown watcher option 'graceful_timout' (kept in options for plugins) "
        "(did you mean 'graceful_timeout'?)"
    )


def test_warnings_travel_with_errors(load):
    error = load.error("[watcher:web]\ncmd = x\nnumprocess = 3\nnumprocesses = x\n")
    assert [w.key for w in error.warnings] == ["numprocess"]
    assert [p.key for p in error.problems] == ["numprocesses"]


def test_undefined_socket_is_an_error_with_suggestion(load):
    (problem,) = load.problems(
        "[watcher:w]\ncmd = run --fd $(circus.sockets.wbe)\nuse_sockets = true\n"
        "[socket:web]\nport = 0\n"
    )
    assert (problem.line, problem.key, problem.suggestion) == (2, "cmd", "web")
    assert "not defined" in problem.message


def test_socket_reference_without_use_sockets(load):
    (problem,) = load.problems(
        "[watcher:w]\ncmd = x\nargs = --fd ((circus.sockets.web))\n[socket:web]\nport = 0\n"
    )
    assert (problem.line, problem.key) == (3, "use_sockets")
    assert "use_sockets is false" in problem.message


def test_use_papa_mismatch_names_both(load):
    problems = load.problems(
        """
        [watcher:direct]
        cmd = run $(circus.sockets.kept)
        use_sockets = true
        use_papa = false
        [watcher:kernel]
        cmd = run $(circus.sockets.local)
        use_sockets = true
        [socket:kept]
        port = 0
        [socket:local]
        port = 0
        use_papa = false
        """
    )
    messages = sorted(p.message for p in problems)
    assert len(messages) == 2
    assert (
        "watcher 'direct' has use_papa = false but its socket 'kept' has use_papa = true"
        in messages[0]
    )
    assert (
        "watcher 'kernel' has use_papa = true but its socket 'local' has use_papa = false"
        in messages[1]
    )
    assert {p.line for p in problems} == {5, 7}


def test_stdin_socket_must_exist_and_agree(load):
    config = load("[watcher:w]\ncmd = x\nstdin_socket = Web\n[socket:web]\nport = 0\n")
    assert config.watchers[0].socket_refs == {"web"}
    (problem,) = load.problems("[watcher:w]\ncmd = x\nstdin_socket = nope\n")
    assert problem.key == "stdin_socket" and problem.line == 3


def test_on_demand_without_sockets_warns(load):
    config = load("[watcher:w]\ncmd = x\non_demand = true\n")
    assert config.warnings[0].key == "on_demand"


def test_plugin_names_differing_only_in_case(load):
    (problem,) = load.problems("[plugin:P]\nuse = a.B\n[plugin:p]\nuse = a.B\n")
    assert "differ only in case" in problem.message


def test_plugin_names_follow_the_watcher_name_rules(load):
    """[plugin:NAME] runs as the watcher plugin:NAME: a space is refused as in [watcher:x]."""
    (problem,) = load.problems("[plugin:bad name]\nuse = a.B\n")
    assert problem.section == "plugin:bad name" and problem.line == 1
    assert "must not contain spaces" in problem.message and "'plugin:bad name'" in problem.message


def test_config_error_is_a_clean_exception(load):
    error = load.error("[watcher:w]\nnumprocesses = 1\n")
    assert isinstance(error, ConfigError)
    assert error.__cause__ is None and error.__context__ is None
