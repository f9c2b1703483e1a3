"""Watcher option validation for add/set (circus.config's schema behind a small facade) and the
conversion of circusctl text values."""

from __future__ import annotations

import signal

import pytest

from circus.control import options as opt
from circus.errors import MessageError


@pytest.mark.parametrize(
    "value, expected",
    [(True, True), (False, False), ("yes", True), ("OFF", False), ("1", True), (0, False)],
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


@pytest.mark.parametrize("value", ["FOO", "", 0, 1000, True, None, "SIGNOPE"])
def test_to_signum_rejects(value):
    with pytest.raises(ValueError):
        opt.to_signum(value)


def test_to_number_and_args():
    assert opt.to_number("0.5") == 0.5 and opt.to_number(2) == 2.0
    assert opt.to_args(["a", "b"]) == ["a", "b"] and opt.to_args(None) is None
    with pytest.raises(ValueError):
        opt.to_args([1])


@pytest.mark.parametrize(
    "key, value",
    [
        ("numprocesses", "3"),
        ("numprocesses", 3),
        ("stop_signal", "INT"),
        ("stop_signal", 2),
        ("graceful_timeout", 2),
        ("graceful_timeout", "500ms"),
        ("send_hup", "true"),
        ("rlimit_nofile", None),
        ("rlimit_nofile", 1024),
        ("stdout_stream.max_bytes", "10"),
        ("hooks.before_start", "mod.fn"),
        ("flapping.attempts", 3),
        ("env", {"A": "1"}),
        ("priority", 5),
        ("autostart", False),
        ("use_sockets", True),  # refused by the original
    ],
)
def test_validate_accepts_and_passes_wire_values_on(key, value):
    assert opt.validate_option(key, value) == value


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("numprocesses", "x", "option numprocesses: expected an integer, got 'x'"),
        ("numprocesses", -1, "expected a number >= 0, got -1"),
        ("env", {"test": 2}, "environment variable 'test': expected a string, got 2"),
        ("hooks", {"nope": "x"}, "unknown hook 'nope'"),
        ("hooks.nope", "x", "unknown hook 'nope'"),
        ("rlimit_bogus", 1, "unknown resource limit 'bogus'"),
        ("stop_signal", "FOO", "got 'FOO'"),
        ("max_retry", -2, "expected a number >= -1"),
        ("uid", 1.5, "user/group name or numeric id"),
    ],
)
def test_validate_rejects_with_key_and_value(key, value, fragment):
    with pytest.raises(MessageError) as info:
        opt.validate_option(key, value)
    assert fragment in str(info.value) and key in str(info.value)


def test_unknown_key_suggests_nearest():
    with pytest.raises(MessageError) as info:
        opt.validate_option("numprocess", 1)
    assert str(info.value) == (
        "option numprocess: unknown watcher option 'numprocess' (did you mean 'numprocesses'?)"
    )


def test_validate_options_reports_every_problem():
    with pytest.raises(MessageError) as info:
        opt.validate_options({"numprocesses": "x", "send_hup": "maybe", "cmd": "ok"})
    assert "numprocesses" in str(info.value) and "send_hup" in str(info.value)


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
        ("graceful_timeout", "2", 2.0),
        ("hooks.before_start", "mod.fn,true", "mod.fn,true"),
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
        ("stdout_stream", "x"),
    ],
)
def test_convert_cli_option_rejects(key, text):
    with pytest.raises(ValueError, match=key):
        opt.convert_cli_option(key, text)


def test_option_to_text():
    assert opt.option_to_text("env", {"B": "2", "A": "1"}) == "A=1,B=2"
    assert opt.option_to_text("env", {}) == ""
    assert opt.option_to_text("uid", None) == ""
    assert opt.option_to_text("send_hup", True) == "True"
