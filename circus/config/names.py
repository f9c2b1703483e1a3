"""Every dotted name a configuration refers to must import: hooks (``hooks.NAME``), custom
stream classes (``stdout_stream.class``, ``stderr_stream.class``), plugin classes
(``[plugin:NAME] use``) and the modules of third-party control commands (``[circus] commands``:
importing one is what registers its commands).

The loaders run this with the other checks, so ``circusd --check-config``, circusd's start-up
(before it launches anything) and ``reloadconfig`` report every name that does not import, each
at its ``file:line [section] key``; ``add`` and ``set`` check the watcher they build the same
way (:func:`check_watcher`). Importing runs the modules' top-level code, as circusd does when it
uses them; the import itself is :mod:`circus.util.dotted`, shared with run time.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from circus.config.ini import Entry
from circus.config.model import CircusSettings, HookSpec, StreamConfig, WatcherConfig
from circus.config.plugin_options import check_option, declared_options
from circus.config.problems import NOWHERE, Origin, Problems
from circus.config.stream_options import builtin_class_name
from circus.util.dotted import import_callable, import_module
from circus.util.suggest import nearest

STREAM_FIELDS = ("stdout_stream", "stderr_stream")


def watcher_names(values: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """``(key, dotted name, what it is)`` for every name a watcher's field values refer to:
    its hooks and the custom classes of its streams (built-in stream classes need no import)."""
    for name, spec in (values.get("hooks") or {}).items():
        path = spec.path if isinstance(spec, HookSpec) else spec
        if isinstance(path, str):  # the library form may give the callable itself
            yield f"hooks.{name}", path, "hook"
    for field in STREAM_FIELDS:
        stream = values.get(field)
        class_name: object
        if isinstance(stream, StreamConfig):
            class_name = stream.class_name
        else:
            class_name = (stream or {}).get("class") if isinstance(stream, Mapping) else None
        if isinstance(class_name, str) and builtin_class_name(class_name) is None:
            yield f"{field}.class", class_name, "stream class"


def check_watcher_names(
    values: Mapping[str, Any],
    section: str,
    problems: Problems,
    entries: Mapping[str, Entry] | None = None,
    origin: Origin = NOWHERE,
) -> None:
    """Record an error for each name of a watcher that does not import, on the line of its key
    (``hooks.after_start``, else the whole ``hooks`` mapping, else the section header)."""
    for key, path, what in watcher_names(values):
        where = _origin(key, entries, origin)
        try:
            import_callable(path)
        except ValueError as exc:
            problems.error(f"{what} {path!r}: {exc}{beside_hint(path, where)}", where, section, key)


def check_plugin_use(
    use: str,
    section: str,
    problems: Problems,
    origin: Origin = NOWHERE,
    options: Mapping[str, Any] | None = None,
    entries: Mapping[str, Entry] | None = None,
) -> None:
    """``[plugin:NAME] use`` must import (an optional library a built-in needs included); when
    the class declares its ``config_options`` (:mod:`circus.config.plugin_options`), each of
    ``options`` (the constructor's keys) must be one of them, with a valid value."""
    try:
        cls = import_callable(use)
    except ValueError as exc:
        problems.error(
            f"plugin class {use!r}: {exc}{beside_hint(use, origin)}", origin, section, "use"
        )
        return
    if options and isinstance(cls, type):
        _check_plugin_options(cls, options, entries or {}, section, problems, origin)


def _check_plugin_options(
    cls: type,
    options: Mapping[str, Any],
    entries: Mapping[str, Entry],
    section: str,
    problems: Problems,
    origin: Origin,
) -> None:
    declared = declared_options(cls)
    if declared is None:
        return  # a third-party plugin that declares nothing: its options are its business
    for key, value in options.items():
        where = entries[key].origin if key in entries else origin
        kind = declared.get(key)
        if kind is None:
            problems.warn(
                f"{cls.__name__} has no option {key!r}; it is ignored",
                where, section, key, suggestion=nearest(key, declared),
            )  # fmt: skip
            continue
        try:
            check_option(kind, value)
        except ValueError as exc:
            problems.error(f"{cls.__name__} option {key}: {exc}", where, section, key)


def check_command_modules(
    settings: CircusSettings, entries: Mapping[str, Entry], problems: Problems
) -> None:
    """Import each module of ``[circus] commands``, which registers the control commands it
    defines (every subclass of ``Command`` with a ``name``)."""
    origin = _origin("commands", entries, NOWHERE)
    for name in settings.commands:
        try:
            import_module(name)
        except ValueError as exc:
            problems.error(
                f"command module: {exc}{beside_hint(name, origin)}", origin, "circus", "commands"
            )


def beside_hint(dotted: str, origin: Origin) -> str:
    """When the top module of ``dotted`` did not import but sits beside the configuration
    file (``myhooks.py``, or a package), what to set: circusd imports from its own sys.path,
    not from the configuration's directory (as the original)."""
    top = dotted.split(".", 1)[0]
    if not origin.file or not top.isidentifier() or top in sys.modules:
        return ""
    directory = os.path.dirname(os.path.abspath(origin.file))
    if not any(os.path.exists(os.path.join(directory, top + end)) for end in (".py", "/")):
        return ""
    return (
        f" ({top} is beside the configuration, but circusd imports from its own sys.path: "
        f"set PYTHONPATH={directory} in circusd's environment)"
    )


def check_watcher(watcher: WatcherConfig) -> None:
    """For ``add`` and ``set``: raise ConfigError naming each name of ``watcher`` that does not
    import (nothing is changed then)."""
    problems = Problems()
    values = {field: getattr(watcher, field) for field in ("hooks", *STREAM_FIELDS)}
    check_watcher_names(values, f"watcher:{watcher.name}", problems)
    problems.raise_if_errors()


def _origin(key: str, entries: Mapping[str, Entry] | None, default: Origin) -> Origin:
    for candidate in (key, key.rsplit(".", 1)[0]):
        entry = (entries or {}).get(candidate)
        if entry is not None:
            return entry.origin
    return default
