"""Property validation of every command: required, types, defaults, command-specific rules."""

from __future__ import annotations

import signal

import pytest

from circus.control.commands import get_commands
from circus.errors import ArgumentError, Errno, MessageError

COMMANDS = get_commands()


def validate(_command, **props):
    return COMMANDS[_command].validate(props)


@pytest.mark.parametrize(
    "name, props, missing",
    [
        ("add", {"cmd": "x"}, "name"),
        ("add", {"name": "w"}, "cmd"),
        ("incr", {}, "name"),
        ("decr", {}, "name"),
        ("get", {"name": "w"}, "keys"),
        ("kill", {}, "name"),
        ("options", {}, "name"),
        ("rm", {}, "name"),
        ("set", {"name": "w"}, "options"),
        ("signal", {"name": "w"}, "signum"),
    ],
)
def test_missing_required_property(name, props, missing):
    with pytest.raises(MessageError) as info:
        validate(name, **props)
    assert str(info.value) == f"message invalid {missing!r} is missing (command {name!r})"
    assert info.value.errno == Errno.MESSAGE_ERROR


@pytest.mark.parametrize(
    "name, props, fragment",
    [
        ("incr", {"name": "w", "nb": "many"}, "'nb' (command 'incr'): expected an integer"),
        ("incr", {"name": "w", "nb": -1}, "expected a value >= 0"),
        ("incr", {"name": 5}, "'name' (command 'incr'): expected a string, got 5"),
        ("stop", {"waiting": "perhaps"}, "'waiting' (command 'stop'): expected a boolean"),
        ("get", {"name": "w", "keys": [1]}, "expected a list of strings"),
        ("set", {"name": "w", "options": []}, "'options' (command 'set'): expected an object"),
        ("set", {"name": "w", "options": {}}, "no option given"),
        ("set", {"name": "w", "options": {"env": {"test": 2}}}, "'test': expected a string, got 2"),
        (
            "add",
            {"name": "w", "cmd": "x", "options": {"bogus": 1}},
            "unknown watcher option 'bogus'",
        ),
        ("add", {"name": " ", "cmd": "x"}, "must not be empty"),
        ("add", {"name": "w", "cmd": "x", "args": [1]}, "list of strings"),
        ("kill", {"name": "w", "signum": "NOPE"}, "signal invalid"),
        ("kill", {"name": "w", "pid": "abc"}, "'pid' (command 'kill'): expected an integer"),
        ("signal", {"name": "w", "signum": "FOO"}, "signal invalid: expected a signal name"),
        ("start", {"name": "w", "match": "fuzzy"}, "unknown match method fuzzy"),
        ("stats", {"process": 12}, "needs 'name'"),
    ],
)
def test_mistyped_property(name, props, fragment):
    with pytest.raises(MessageError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        validate(name, **props)


def test_defaults_are_filled_and_values_converted():
    assert validate("incr", name="w") == {"name": "w", "nb": 1, "waiting": False}
    assert validate("kill", name="w", pid="12", signum="int", graceful_timeout="0.5") == {
        "name": "w",
        "pid": 12,
        "signum": signal.SIGINT,
        "graceful_timeout": 0.5,
        "waiting": False,
    }
    assert validate("reload") == {"graceful": True, "sequential": False, "waiting": False}
    assert validate("get", name="w", keys="env")["keys"] == ["env"]
    assert validate("quit") == {"waiting": False, "stop_workers": False}
    assert validate("start", name="w")["match"] == "glob"


def test_unknown_properties_are_kept_and_ignored():
    assert validate("status", name="w", extra=1) == {"name": "w", "extra": 1}


def test_null_optional_property_is_treated_as_absent():
    assert validate("status", name=None) == {}


def test_signal_childpid_rules():
    props = validate("signal", name="w", signum="9", pid=3, child_pid=4)
    assert props["childpid"] == 4 and "child_pid" not in props
    with pytest.raises(ArgumentError, match="cannot specify childpid without pid"):
        validate("signal", name="w", signum="9", childpid=4)


def test_set_and_add_pass_wire_values_on():
    props = validate("set", name="w", options={"numprocesses": "2", "stop_signal": "QUIT"})
    assert props["options"] == {"numprocesses": "2", "stop_signal": "QUIT"}
    props = validate("add", name="w", cmd="x", options={"send_hup": "yes"})
    assert props["options"] == {"send_hup": "yes"} and props["start"] is False
