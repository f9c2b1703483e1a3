"""circusctl arguments -> wire messages, for every command (no daemon needed)."""

from __future__ import annotations

import signal

import pytest

from circus.control.commands import REGISTRY, get_commands
from circus.errors import ArgumentError

COMMANDS = get_commands()


def msg(name, *args, **opts):
    return COMMANDS[name].message(*args, **opts)


def test_all_manual_commands_are_registered():
    """The manual's 25, plus the new ``kernel`` and ``tail`` (circushttpd's views)."""
    assert sorted(REGISTRY) == sorted(
        [
            "add",
            "decr",
            "dstats",
            "get",
            "globaloptions",
            "incr",
            "ipython",
            "kernel",
            "kill",
            "list",
            "listen",
            "listsockets",
            "numprocesses",
            "numwatchers",
            "options",
            "quit",
            "reload",
            "reloadconfig",
            "restart",
            "rm",
            "set",
            "signal",
            "start",
            "stats",
            "status",
            "stop",
            "tail",
        ]
    )


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_command_has_help_and_usage_line(name):
    command = COMMANDS[name]
    assert command.short() and not command.short().startswith(" ")
    assert f"circusctl {name}" in command.help_text()


@pytest.mark.parametrize(
    "name, args, opts, expected",
    [
        (
            "add",
            ("w", "sleep", "10"),
            {"start": False},
            {"name": "w", "cmd": "sleep 10", "start": False},
        ),
        (
            "add",
            ("w", "sleep"),
            {"start": True, "waiting": True},
            {"name": "w", "cmd": "sleep", "start": True, "waiting": True},
        ),
        ("incr", ("w",), {}, {"name": "w"}),
        ("incr", ("w", "3"), {"waiting": True}, {"name": "w", "nb": 3, "waiting": True}),
        ("decr", ("w", "2"), {}, {"name": "w", "nb": 2}),
        ("dstats", (), {}, {}),
        ("get", ("w", "a", "b"), {}, {"name": "w", "keys": ["a", "b"]}),
        ("globaloptions", (), {}, {}),
        ("globaloptions", ("endpoint",), {}, {"option": "endpoint"}),
        ("kill", ("w",), {"signum": None, "graceful_timeout": None}, {"name": "w"}),
        (
            "kill",
            ("w", "12"),
            {"signum": "INT", "graceful_timeout": "0.5", "waiting": True},
            {"name": "w", "pid": "12", "signum": "INT", "graceful_timeout": "0.5", "waiting": True},
        ),
        ("list", (), {}, {}),
        ("list", ("w",), {}, {"name": "w"}),
        ("listsockets", (), {}, {}),
        ("numprocesses", ("w",), {}, {"name": "w"}),
        ("numwatchers", (), {}, {}),
        ("options", ("w",), {}, {"name": "w"}),
        ("quit", (), {}, {}),
        (
            "quit",
            (),
            {"waiting": True, "stop-workers": True},
            {"waiting": True, "stop_workers": True},
        ),
        ("reload", (), {}, {"graceful": True, "sequential": False, "waiting": False}),
        (
            "reload",
            ("w",),
            {"terminate": True, "sequential": True, "waiting": True},
            {"name": "w", "graceful": False, "sequential": True, "waiting": True},
        ),
        ("reloadconfig", (), {"waiting": True}, {"waiting": True}),
        ("restart", ("w*",), {"match": "glob"}, {"name": "w*"}),
        (
            "restart",
            ("w.*",),
            {"match": "regex", "waiting": True},
            {"name": "w.*", "match": "regex", "waiting": True},
        ),
        (
            "rm",
            ("w",),
            {"waiting": True, "nostop": True},
            {"name": "w", "waiting": True, "nostop": True},
        ),
        (
            "set",
            ("w", "numprocesses", "3", "env", "A=1"),
            {},
            {"name": "w", "options": {"numprocesses": 3, "env": {"A": "1"}}},
        ),
        (
            "set",
            ("w", "STOP_SIGNAL", "kill"),
            {"waiting": True},
            {"name": "w", "options": {"stop_signal": signal.SIGKILL}, "waiting": True},
        ),
        (
            "signal",
            ("w", "hup"),
            {},
            {"name": "w", "signum": "hup", "children": False, "recursive": False},
        ),
        (
            "signal",
            ("w", "12", "9"),
            {"children": True},
            {"name": "w", "signum": "9", "pid": 12, "children": True, "recursive": False},
        ),
        ("start", (), {}, {}),
        ("stats", (), {}, {"extended": False}),
        ("stats", ("w", "12"), {"extended": True}, {"name": "w", "process": 12, "extended": True}),
        ("status", ("w",), {}, {"name": "w"}),
        (
            "stop",
            ("w",),
            {"waiting": True, "match": "simple"},
            {"name": "w", "waiting": True, "match": "simple"},
        ),
    ],
)
def test_message_building(name, args, opts, expected):
    assert msg(name, *args, **opts) == {"command": name, "properties": expected}


def test_listen_message_is_topics_and_endpoint():
    assert msg("listen") == {"command": "listen", "topics": [""], "endpoint": None}
    assert msg("listen", "tcp://127.0.0.1:5556", "watcher.w.") == {
        "command": "listen",
        "topics": ["watcher.w."],
        "endpoint": "tcp://127.0.0.1:5556",
    }


@pytest.mark.parametrize(
    "name, args, fragment",
    [
        ("add", ("w",), "invalid number of arguments"),
        ("incr", (), "invalid number of arguments"),
        ("incr", ("w", "x"), "<nb> must be an integer"),
        ("get", ("w",), "invalid number of arguments"),
        ("list", ("a", "b"), "invalid number of arguments"),
        ("options", (), "invalid number of arguments"),
        ("rm", (), "invalid number of arguments"),
        ("set", ("w", "numprocesses"), "invalid number of arguments"),
        ("set", ("w", "numprocesses", "3", "env"), "every key needs a value"),
        ("set", ("w", "numprocesses", "x"), "expected an integer"),
        ("set", ("w", "nope", "1"), "unknown watcher option 'nope'"),
        ("set", ("w", "env", "A=1,B"), "expected K=V pairs"),
        ("signal", ("w",), "invalid number of arguments"),
        ("signal", ("w", "x", "9"), "<pid> must be an integer"),
        ("stats", ("w", "x"), "<pid> must be an integer"),
        ("dstats", ("x",), "takes no arguments"),
        ("quit", ("x",), "invalid number of arguments"),
    ],
)
def test_message_argument_errors(name, args, fragment):
    with pytest.raises(ArgumentError, match=fragment):
        msg(name, *args)
