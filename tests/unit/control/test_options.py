"""Watcher option validation/conversion for add and set (wire values and circusctl text)."""

from __future__ import annotations

import signal

import pytest

from circus.control import options as opt
from circus.errors import MessageError


@pytest.mark.parametrize(
    "value, expected",
    [
        (True, True),
        (False, False),
        ("yes", True),
        ("OFF", False),
        ("1", True),
        (0, False),
    ],
)
def test_to_bool(value, expected):
    assert opt.to_bool(value) is expected


@pytest.mark.parametrize("value", ["maybe", 2, None, 1.5])
def test_to_bool_rejects(value):
    with pytest.raises(ValueError):
        opt.to_bool(value)


@pytest.mark.parametrize(
    "value, expected",
    [
        (15, 15),
        ("15", 15),
        ("TERM", signal.SIGTERM),
        ("sigkill", signal.SIGKILL),
        ("quit", signal.SIGQUIT),
        ("SIGRTMIN+1", signal.SIGRTMIN + 1),
        ("hup", signal.SIGHUP),
    ],
)
def test_to_signum(value, expected):
    assert opt.to_signum(value) == expected


@pytest.mark.parametrize("value", ["FOO", "", 0, 1000, True, None, "SIG"])
def test_to_signum_rejects(value):
    with pytest.raises(ValueError):
        opt.to_signum(value)


def test_validate_converts_wire_values():
    assert opt.validate_option("numprocesses", "3") == 3
    assert opt.validate_option("stop_signal", "INT") == signal.SIGINT
    assert opt.validate_option("graceful_timeout", 2) == 2.0
    assert opt.validate_option("send_hup", "true") is True
    assert opt.validate_option("rlimit_nofile", None) is None
    assert opt.validate_option("rlimit_nofile", 1024) == 1024
    assert opt.validate_option("stdout_stream.max_bytes", "10") == 10
    assert opt.validate_option("hooks.before_start", "mod.fn") == "mod.fn"
    assert opt.validate_option("flapping.attempts", 3) == 3
    assert opt.validate_option("priority", 5) == 5  # the original rejected it
    assert opt.validate_option("umask", "022") == 0o22


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("numprocesses", "x", "'numprocesses': expected an integer, got 'x'"),
        ("numprocesses", -1, "expected a value >= 0"),
        ("env", {"test": 2}, "value of 'test' must be a string"),
        ("env", "A=1", "expected an object"),
        ("stdout_stream", {"filename": "x"}, "needs a 'class' key"),
        ("hooks", {"nope": "x"}, "unknown hook 'nope'"),
        ("hooks.nope", "x", "unknown hook 'nope'"),
        ("rlimit_bogus", 1, "not a resource limit"),
        ("stop_signal", "FOO", "unknown signal 'FOO'"),
        ("max_retry", -2, "-1 (infinite)"),
        ("uid", 1.5, "user/group name or id"),
    ],
)
def test_validate_rejects_with_key_and_value(key, value, fragment):
    with pytest.raises(MessageError) as info:
        opt.validate_option(key, value)
    assert fragment in str(info.value)


def test_unknown_key_suggests_nearest():
    with pytest.raises(
        MessageError,
        match=r"unknown key 'numprocess' \(did you mean "
        r"'numprocesses'\?\)",
    ):
        opt.validate_option("numprocess", 1)


def test_validate_options_requires_object():
    with pytest.raises(MessageError, match="should be an object"):
        opt.validate_options(["numprocesses", 1])


@pytest.mark.parametrize(
    "key, text, expected",
    [
        ("numprocesses", "3", 3),
        ("env", "A=1, B = 2", {"A": "1", "B": "2"}),
        ("env", "", {}),
        (
            "hooks",
            "before_start:mod.a,after_stop:mod.b",
            {"before_start": "mod.a", "after_stop": "mod.b"},
        ),
        ("stop_signal", "KILL", signal.SIGKILL),
        ("send_hup", "on", True),
        ("cmd", "sleep 10", "sleep 10"),
        ("uid", "nobody", "nobody"),
    ],
)
def test_convert_cli_option(key, text, expected):
    assert opt.convert_cli_option(key, text) == expected


@pytest.mark.parametrize(
    "key, text",
    [
        ("numprocesses", "x"),
        ("env", "A"),
        ("hooks", "nope:x"),
        ("send_hup", "maybe"),
    ],
)
def test_convert_cli_option_rejects(key, text):
    with pytest.raises(ValueError, match=repr(key)):
        opt.convert_cli_option(key, text)


def test_option_to_text():
    assert opt.option_to_text("env", {"B": "2", "A": "1"}) == "A=1,B=2"
    assert opt.option_to_text("env", {}) == ""
    assert opt.option_to_text("uid", None) == ""
    assert opt.option_to_text("send_hup", True) == "True"
