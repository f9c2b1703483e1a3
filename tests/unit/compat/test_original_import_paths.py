"""The original Circus' import paths re-export ours (issue 8, item 6).

Every public name of the original's modules is either the very object of this implementation
or refused with an ImportError saying why and what to use; none is a ModuleNotFoundError.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
import tornado.ioloop

import circus.config.converters
import circus.control.codec
import circus.control.commands
import circus.control.commands.base
import circus.control.options
import circus.errors
import circus.hooks
import circus.procinfo
import circus.streams
import circus.util.logsetup
from circus.util.compat import NotProvidedError

pytestmark = pytest.mark.timeout(30)

REPO = Path(__file__).resolve().parents[3]

# original module -> {name: our object}
PROVIDED = {
    "circus.exc": {
        "AlreadyExist": circus.errors.AlreadyExistError,
        "ArgumentError": circus.errors.ArgumentError,
        "CallError": circus.errors.CallError,
        "ConflictError": circus.errors.ConflictError,
        "MessageError": circus.errors.MessageError,
    },
    "circus.commands": {"get_commands": circus.control.commands.get_commands},
    "circus.commands.base": {
        "Command": circus.control.commands.base.Command,
        "get_commands": circus.control.commands.get_commands,
        "ok": circus.control.codec.ok_reply,
    },
    "circus.commands.errors": {
        name: circus.errors.Errno[name]
        for name in (
            "NOT_SPECIFIED",
            "INVALID_JSON",
            "UNKNOWN_COMMAND",
            "MESSAGE_ERROR",
            "OS_ERROR",
            "COMMAND_ERROR",
            "BAD_MSG_DATA_ERROR",
        )
    },
    "circus.commands.util": {
        "convert_option": circus.control.options.convert_cli_option,
        "validate_option": circus.control.options.validate_option,
    },
    "circus.stream": {
        **{
            name: getattr(circus.streams, name)
            for name in (
                "FancyStdoutStream",
                "FileStream",
                "QueueStream",
                "StdoutStream",
                "TimedRotatingFileStream",
                "WatchedFileStream",
            )
        },
        "get_stream": circus.streams.build_stream,
    },
    "circus.stream.file_stream": {
        name: getattr(circus.streams, name)
        for name in ("FileStream", "TimedRotatingFileStream", "WatchedFileStream")
    },
    "circus.util": {
        "LOG_LEVELS": circus.util.logsetup.LEVELS,
        "LOG_FMT": circus.util.logsetup.LOG_FORMAT,
        "LOG_DATE_FMT": circus.util.logsetup.LOG_DATE_FORMAT,
        "TRUTHY_STRINGS": circus.config.converters.TRUE_WORDS,
        "FALSY_STRINGS": circus.config.converters.FALSE_WORDS,
        "to_bool": circus.config.converters.to_bool,
        "to_signum": circus.config.converters.to_signum,
        "human2bytes": circus.config.converters.to_size,
        "parse_env_str": circus.config.converters.to_env,
        "env_to_str": circus.control.options.env_to_text,
        "bytes2human": circus.procinfo.bytes2human,
        "get_info": circus.procinfo.get_info,
        "resolve_name": circus.hooks.resolve,
        "AsyncPeriodicCallback": tornado.ioloop.PeriodicCallback,
    },
}


@pytest.mark.parametrize(
    "module, name",
    [(module, name) for module, names in PROVIDED.items() for name in names],
)
def test_every_reexported_name_is_ours(module, name):
    namespace: dict = {}
    exec(f"from {module} import {name}", namespace)
    assert namespace[name] is PROVIDED[module][name]


def test_the_manuals_imports():
    from circus import get_arbiter  # noqa: F401
    from circus.arbiter import Arbiter  # noqa: F401
    from circus.commands.base import Command
    from circus.exc import ArgumentError, MessageError
    from circus.process import Process  # noqa: F401
    from circus.stream import FileStream
    from circus.watcher import Watcher  # noqa: F401

    assert Command is circus.control.commands.base.Command
    assert (ArgumentError, MessageError) == (
        circus.errors.ArgumentError,
        circus.errors.MessageError,
    )
    assert FileStream is circus.streams.FileStream


def test_the_manuals_plugin_imports():
    import logging

    import circus.cli.plugin
    from circus import logger

    assert logger is logging.getLogger("circus")
    import circus.plugins.base
    from circus.plugins import CircusPlugin, main

    assert CircusPlugin is circus.plugins.base.CircusPlugin
    assert main is circus.cli.plugin.main


def test_default_endpoints_follow_the_runtime_dir(runtime_dir):
    import circus.util

    assert f"ipc://{runtime_dir}/circus/circus.sock" == circus.util.DEFAULT_ENDPOINT_DEALER
    assert f"ipc://{runtime_dir}/circus/pubsub.sock" == circus.util.DEFAULT_ENDPOINT_SUB
    assert f"ipc://{runtime_dir}/circus/stats.sock" == circus.util.DEFAULT_ENDPOINT_STATS
    assert circus.util.DEFAULT_ENDPOINT_MULTICAST == "udp://237.219.251.97:12027"  # the original's


def test_error_keeps_the_originals_argument_order():
    from circus.commands import error

    reply = error("bad", "traceback", 3)
    assert (reply["status"], reply["reason"], reply["tb"], reply["errno"]) == (
        "error",
        "bad",
        "traceback",
        3,
    )


@pytest.mark.parametrize(
    "module, name, hint",
    [
        ("circus.plugins", "get_plugin_cmd", "plugin_watcher"),
        ("circus.sockets", "CircusSocket", "[socket:NAME]"),
        ("circus.consumer", "CircusConsumer", "circus.events.EventSubscriber"),
        ("circus.util", "configure_logger", "configure_logging"),
        ("circus.stream", "Redirector", "no redirector"),
        ("circus.commands.base", "KNOWN_COMMANDS", "REGISTRY"),
    ],
)
def test_names_without_counterpart_say_so(module, name, hint):
    with pytest.raises(NotProvidedError) as info:
        exec(f"from {module} import {name}", {})
    assert isinstance(info.value, ImportError)
    assert not isinstance(info.value, ModuleNotFoundError)
    assert f"{module}.{name} (original Circus) is not provided" in str(info.value)
    assert hint in str(info.value)


def test_unknown_names_are_still_attribute_errors():
    import circus.util

    assert not hasattr(circus.util, "no_such_helper")


# --- completeness against the original's source (in .venv-circus019, made by `make test`) -----

ORIGINAL_FILES = {
    "circus.exc": "exc.py",
    "circus.util": "util.py",
    "circus.sockets": "sockets.py",
    "circus.stream": "stream/__init__.py",
    "circus.stream.file_stream": "stream/file_stream.py",
    "circus.commands.base": "commands/base.py",
    "circus.commands.errors": "commands/errors.py",
    "circus.commands.util": "commands/util.py",
    "circus.plugins": "plugins/__init__.py",
    "circus.consumer": "consumer.py",
    "circus.client": "client.py",
}
# names the original re-exports by import rather than defines
REEXPORTED = {
    "circus.stream": {"FileStream", "WatchedFileStream", "TimedRotatingFileStream", "Redirector"},
    "circus.commands.base": {"MessageError"},
}


def _original_root() -> Path | None:
    found = sorted(REPO.glob(".venv-circus019/lib/python3*/site-packages/circus"))
    return found[0] if found else None


def _defined_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.col_offset == 0:
            names.add(node.name)
        elif isinstance(node, ast.Assign) and node.col_offset == 0:
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.If):  # platform-dependent definitions (to_uid, to_gid)
            names.update(
                sub.name for sub in node.body + node.orelse if isinstance(sub, ast.FunctionDef)
            )
    return {name for name in names if not name.startswith("_")}


@pytest.mark.parametrize("module", sorted(ORIGINAL_FILES))
def test_every_public_name_of_the_original_is_provided_or_refused(module):
    root = _original_root()
    if root is None:
        pytest.skip("the original circus 0.19 is not installed (make compat-venvs)")
    names = _defined_names(root / ORIGINAL_FILES[module]) | REEXPORTED.get(module, set())
    ours = importlib.import_module(module)
    unhandled = []
    for name in sorted(names):
        try:
            getattr(ours, name)
        except NotProvidedError:
            pass
        except AttributeError:
            unhandled.append(name)
    assert unhandled == []
