"""Building :class:`WatcherConfig` objects: from a config section, from ``add`` options, and
updating one with ``set`` options. All three go through the same two steps:

1. :func:`gather` converts each key with :mod:`circus.config.schema` into a dict of field values
   (prefixed keys such as ``rlimit_nofile`` are collected into their mapping field);
2. :func:`finish` checks the rules between keys and builds the frozen object.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from circus.config import converters as cv
from circus.config import env as envlib
from circus.config.checks import check_process_count, check_watcher_sockets
from circus.config.ini import Entry
from circus.config.model import CircusConfig, FrozenMap, StreamConfig, WatcherConfig
from circus.config.problems import NOWHERE, Origin, Problems
from circus.config.schema import (
    FLAPPING_OPTIONS,
    IDENTITY_KEYS,
    WATCHER_OPTIONS,
    WATCHER_PREFIXES,
    finish_stream,
    split_key,
    suggest_key,
)
from circus.config.stream_options import OptionIssue
from circus.config.substitution import substitute_env
from circus.errors import ConfigError
from circus.util.suggest import nearest
from papa_kernel import records

MAPPING_FIELDS = ("env", "rlimits", "hooks", "flapping", "stdout_stream", "stderr_stream")
#: Names circusd gives its own support watchers.
RESERVED_NAMES = ("circusd-stats", "circushttpd")


def check_name(name: Any) -> str:
    """A watcher name: not empty, no whitespace or control characters, not reserved."""
    text = cv.to_str(name).strip() if name is not None else ""
    if not text:
        raise ValueError("a watcher needs a name")
    if any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError(f"watcher name {text!r} must not contain spaces or control characters")
    if text.lower() in RESERVED_NAMES:
        raise ValueError(f"watcher name {text!r} is reserved for circusd's own watcher")
    return text


def gather(
    entries: Iterable[Entry],
    section: str,
    problems: Problems,
    values: dict[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    strict: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Convert entries into field values (merged into ``values``) and free-form options.

    ``env`` is what ``$(circus.env.X)`` sees. Unknown keys are warnings and go to the free-form
    options, unless ``strict`` (control commands), where they are errors.
    """
    values = {} if values is None else values
    free: dict[str, Any] = {}
    for entry in entries:
        if entry.key in IDENTITY_KEYS:
            continue
        raw = entry.value
        if isinstance(raw, str) and env is not None:
            raw = substitute_env(raw, env)
        try:
            base, sub = split_key(entry.key)
        except KeyError:
            record = problems.error if strict else problems.warn
            message = f"unknown watcher option {entry.key!r}"
            record(
                message if strict else message + " (kept in options for plugins)",
                entry.origin,
                section,
                entry.key,
                suggest_key(entry.key),
            )
            free[entry.key] = raw
            continue
        try:
            _assign(values, base, sub, raw)
        except (ValueError, TypeError) as exc:
            problems.error(str(exc), entry.origin, section, entry.key)
            continue
        if base == "flapping." and sub not in FLAPPING_OPTIONS:
            hint = nearest(sub or "", FLAPPING_OPTIONS)
            problems.warn(
                f"unknown flapping option {sub!r} (kept as is)",
                entry.origin,
                section,
                entry.key,
                f"flapping.{hint}" if hint else None,
            )
    return values, free


def _assign(values: dict[str, Any], base: str, sub: str | None, raw: Any) -> None:
    if sub is None:
        spec = WATCHER_OPTIONS[base]
        converted = spec.convert(raw)
        if spec.field in MAPPING_FIELDS:
            values[spec.field] = {**values.get(spec.field, {}), **dict(converted)}
        else:
            values[spec.field] = converted
        return
    field, convert, _restart = WATCHER_PREFIXES[base]
    name, converted = convert(sub, raw)
    values[field] = {**values.get(field, {}), name: converted}


def finish(
    name: str,
    values: Mapping[str, Any],
    free: Mapping[str, Any],
    problems: Problems,
    section: str,
    origin: Origin = NOWHERE,
    entries: Mapping[str, Entry] | None = None,
) -> WatcherConfig | None:
    """Check the rules between keys and build the watcher (None if they are broken).
    ``entries`` (the section's, by key) locate what is found about a key at its line."""
    values = dict(values)
    cmd_reported = any(p.key == "cmd" and p.section == section for p in problems.errors)
    if not values.get("cmd") and not cmd_reported:
        problems.error("missing required key 'cmd' (the program to run)", origin, section, "cmd")
    for field in ("stdout_stream", "stderr_stream"):
        values[field] = _finish_stream(field, values, problems, origin, section, entries or {})
    if values.get("singleton") and values.get("numprocesses", 1) > 1:
        problems.error(
            "a singleton watcher runs at most one process: set numprocesses to 0 or 1",
            origin,
            section,
            "numprocesses",
        )
    _requires(values, "copy_path", "copy_env", problems, origin, section)
    _requires(values, "virtualenv", "copy_env", problems, origin, section)
    _requires(values, "virtualenv_py_ver", "virtualenv", problems, origin, section)
    if any(p.section == section for p in problems.errors):
        return None
    for field in ("env", "rlimits", "hooks", "flapping"):
        if field in values:
            values[field] = FrozenMap(values[field])
    return WatcherConfig(name=name, **values, options=FrozenMap(free))


def _finish_stream(
    field: str,
    values: Mapping[str, Any],
    problems: Problems,
    origin: Origin,
    section: str,
    entries: Mapping[str, Entry],
) -> StreamConfig | None:
    def report(issue: OptionIssue) -> None:
        record = problems.warn if issue.ignored else problems.error
        hint = f"{field}.{issue.suggestion}" if issue.suggestion else None
        key = f"{field}.{issue.key}"
        entry = entries.get(key) or entries.get(field)  # stdout_stream.KEY or the mapping
        record(issue.message, entry.origin if entry else origin, section, key, hint)

    return finish_stream(values.get(field) or {}, report)


def _requires(
    values: Mapping[str, Any],
    key: str,
    needed: str,
    problems: Problems,
    origin: Origin,
    section: str,
) -> None:
    if values.get(key) and not values.get(needed):
        problems.error(f"{key} requires {needed} = true", origin, section, key)


def _editable_values(watcher: WatcherConfig) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in (spec.name for spec in records.fields(WatcherConfig)):
        if field in ("name", "options"):
            continue
        value = getattr(watcher, field)
        if field in ("stdout_stream", "stderr_stream"):
            value = {"class": value.class_name, **value.options} if value else {}
        elif field in MAPPING_FIELDS:
            value = dict(value)
        values[field] = value
    return values


def _option_entries(options: Mapping[str, Any]) -> list[Entry]:
    if not isinstance(options, Mapping):
        raise ConfigError(f"options must be an object of watcher options, got {cv.show(options)}")
    return [Entry(str(key), value, NOWHERE) for key, value in options.items()]


def apply_watcher_options(watcher: WatcherConfig, options: Mapping[str, Any]) -> WatcherConfig:
    """A copy of ``watcher`` with ``options`` (as sent to ``set``) validated and applied.

    Mapping keys replace their whole mapping (``env``, ``hooks``, ``rlimits``, streams), prefixed
    keys change one item (``rlimit_nofile``, ``hooks.before_start``, ``stdout_stream.filename``).
    Raises :class:`ConfigError` listing every bad key or value; nothing is applied then.
    """
    problems = Problems()
    section = f"watcher:{watcher.name}"
    values = _editable_values(watcher)
    for key in MAPPING_FIELDS:  # a whole mapping given in options replaces the old one
        if key in options:
            values[key] = {}
    values, free = gather(_option_entries(options), section, problems, values, strict=True)
    result = finish(watcher.name, values, {**watcher.options, **free}, problems, section)
    problems.raise_if_errors()
    assert result is not None
    return result


def watcher_from_options(
    name: Any,
    cmd: Any,
    args: Any = None,
    options: Mapping[str, Any] | None = None,
    config: CircusConfig | None = None,
    environ: Mapping[str, str] | None = None,
) -> WatcherConfig:
    """A new watcher as the ``add`` command (or the dict form) describes it.

    With ``config``, the new watcher gets the ``[env]``/``[env:...]`` sections that match its
    name (as if it had been in the file), and its sockets are checked against ``config``'s
    (they must exist and agree on ``use_papa``). Raises :class:`ConfigError` with every problem.
    """
    problems = Problems()
    try:
        name = check_name(name)
    except ValueError as exc:
        raise ConfigError(problems.make(str(exc), key="name")) from None
    section = f"watcher:{name}"
    entries = _option_entries(options or {})
    entries += [Entry("cmd", cmd, NOWHERE)] + ([Entry("args", args, NOWHERE)] if args else [])
    environ = os.environ if environ is None else environ
    copy_env = _copy_env(entries)
    base = config.env if config else {}
    sections = config.env_sections if config else ()
    values = {"env": envlib.watcher_env(name, copy_env, environ, base, sections)}
    lookup = envlib.lookup_env(name, environ, base, sections)
    values, free = gather(entries, section, problems, values, lookup, strict=True)
    watcher = finish(name, values, free, problems, section)
    if watcher is not None and config is not None:
        check_watcher_sockets(watcher, {s.name: s for s in config.sockets}, problems, NOWHERE)
        check_process_count(watcher, config.circus, problems, NOWHERE)
    problems.raise_if_errors()
    assert watcher is not None
    return watcher


def _copy_env(entries: list[Entry]) -> bool:
    """``copy_env`` must be known before the environment is built."""
    for entry in entries:
        if entry.key == "copy_env":
            try:
                return cv.to_bool(entry.value)
            except ValueError:
                return False  # gather() reports it
    return False
