"""Turning an INI file, or the dict form of ``get_arbiter()``, into a :class:`CircusConfig`.

Both sources become the same list of sections (with origins), then one pipeline builds the
model: ``[env]``, ``[env:...]``, ``[circus]``, sockets, watchers, plugins, then the rules that
span sections. Every problem is collected; if any is an error, one :class:`ConfigError` lists
them all (warnings ride along in ``ConfigError.warnings`` / ``CircusConfig.warnings``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from circus.config import env as envlib
from circus.config.argv import spawn_variables
from circus.config.checks import (
    check_discovery,
    check_endpoints,
    check_env_patterns,
    check_process_count,
    check_unique,
    check_users,
    check_watcher_sockets,
)
from circus.config.converters import to_bool
from circus.config.flapping import (
    FLAPPING_PLUGIN,
    check_flapping_plugin,
    check_flapping_sections,
)
from circus.config.ini import Entry, Section, read_document
from circus.config.model import (
    CircusConfig,
    CircusSettings,
    EnvSection,
    FrozenMap,
    PluginConfig,
    SocketConfig,
    WatcherConfig,
)
from circus.config.names import check_command_modules, check_plugin_use, check_watcher_names
from circus.config.placeholders import warn_left_placeholders
from circus.config.problems import NOWHERE, Problems
from circus.config.sections import build_plugin, build_settings, build_socket
from circus.config.substitution import substitute_env
from circus.config.support import with_support
from circus.config.watchers import check_name, finish, gather
from circus.errors import ConfigError
from circus.util.gc_pause import gc_paused
from circus.util.suggest import nearest
from papa_kernel import records

log = logging.getLogger(__name__)

SECTION_KINDS = ("circus", "env", "watcher", "socket", "plugin")
BY_KIND = ("circus", "env", "env:", "watcher", "socket", "plugin")
#: get_arbiter()'s default check_delay (the INI default is 5 seconds).
LIBRARY_CHECK_DELAY = 1.0
#: get_arbiter() keyword arguments that are runtime objects, not configuration.
RUNTIME_ARGUMENTS = ("context", "loop", "background", "proc_name", "prereload_fn", "ssh_server")


def load_config(
    path: str | os.PathLike[str],
    environ: Mapping[str, str] | None = None,
    log_warnings: bool = True,
    import_names: bool = True,
) -> CircusConfig:
    """Read a Circus INI file (and its includes) into a :class:`CircusConfig`.

    ``environ`` stands for circusd's environment (default ``os.environ``). Raises
    :class:`ConfigError` with every problem found. Warnings are kept in ``config.warnings``
    and, if ``log_warnings``, logged. ``import_names`` (default true) imports every hook,
    custom stream class and plugin class the file names (:mod:`circus.config.names`) and warns
    about a watcher ``uid``/``gid`` name unknown on this machine; false only parses, for tools
    that will not run the configuration.
    """
    environ = dict(os.environ if environ is None else environ)
    problems = Problems()
    path = os.fspath(path)
    if not os.path.isfile(path):
        reason = "is a directory" if os.path.isdir(path) else "does not exist"
        raise ConfigError(problems.make(f"the configuration file {path!r} {reason}"))
    with gc_paused():
        document = read_document(path, problems, environ)
        sections = list(document.sections.values())
        return _build(sections, problems, environ, path, document.files, log_warnings, import_names)


def config_from_dict(
    mapping: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    log_warnings: bool = True,
    import_names: bool = True,
) -> CircusConfig:
    """Build a :class:`CircusConfig` from the dict form ``get_arbiter()`` takes::

        {"watchers": [{"cmd": "python app.py", "numprocesses": 3}, ...],
         "sockets": [{"name": "web", "port": 8080}, ...],   # or {"web": {...}}
         "plugins": [{"use": "pkg.Plugin", "name": "p"}, ...],
         "env": {"VAR": "value"},
         "endpoint": "ipc://...", "check_delay": 1.0, ...}  # any [circus] key

    Values may be typed (ints, bools, lists, dicts) or text. ``controller`` is accepted for
    ``endpoint`` (get_arbiter's name); a watcher without ``name`` is named after its program;
    ``check_delay`` defaults to 1 second, as in get_arbiter(). ``import_names``: as for
    :func:`load_config` (callables given as hooks need no import).
    """
    environ = dict(os.environ if environ is None else environ)
    problems = Problems()
    if not isinstance(mapping, Mapping):
        raise ConfigError(problems.make(f"expected a mapping, got {type(mapping).__name__}"))
    sections = _dict_sections(mapping, problems)
    with gc_paused():
        return _build(sections, problems, environ, None, [], log_warnings, import_names)


def _entries(name: str, values: Mapping[str, Any]) -> Section:
    section = Section(name, NOWHERE)
    for key, value in values.items():
        section.entries[str(key)] = Entry(str(key), value, NOWHERE)
    return section


def _dict_sections(mapping: Mapping[str, Any], problems: Problems) -> list[Section]:
    circus = {
        k: v for k, v in mapping.items() if k not in ("watchers", "sockets", "plugins", "env")
    }
    if "controller" in circus:
        circus["endpoint"] = circus.pop("controller")
    circus.setdefault("check_delay", LIBRARY_CHECK_DELAY)
    for key in RUNTIME_ARGUMENTS:
        circus.pop(key, None)
    sections = [_entries("circus", circus)]
    if isinstance(mapping.get("env"), Mapping):
        sections.append(_entries("env", mapping["env"]))
    elif mapping.get("env") is not None:
        problems.error("expected an object of environment variables", section="env")
    for kind, items in (
        ("watcher", mapping.get("watchers")),
        ("socket", mapping.get("sockets")),
        ("plugin", mapping.get("plugins")),
    ):
        if isinstance(items, Mapping):
            items = [{"name": n, **v} if isinstance(v, Mapping) else v for n, v in items.items()]
        if items is not None and not isinstance(items, (list, tuple)):
            problems.error(f"{kind}s: expected a list of objects, got {type(items).__name__}")
            continue
        for index, item in enumerate(items or ()):
            if not isinstance(item, Mapping):
                problems.error(
                    f"{kind} #{index + 1}: expected an object, got {type(item).__name__}"
                )
                continue
            sections.append(_entries(f"{kind}:{_dict_name(kind, item)}", _flatten(item)))
    return sections


def _dict_name(kind: str, item: Mapping[str, Any]) -> str:
    name = item.get("name")
    if (
        name is None
        and kind == "watcher"
        and isinstance(item.get("cmd"), str)
        and item["cmd"].split()
    ):
        return os.path.basename(item["cmd"].split()[0])
    if name is None and kind == "plugin":
        return str(item.get("use", ""))
    return str(name or "")


def _flatten(item: Mapping[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in item.items() if k not in ("name", "options")}
    if isinstance(item.get("options"), Mapping):
        values.update(item["options"])
    return values


def _kind(name: str) -> str | None:
    """``circus``, ``env``, ``env:`` (pattern sections), ``watcher``, ``socket``, ``plugin``."""
    if name in ("circus", "env"):
        return name
    kind, sep, _rest = name.partition(":")
    if not sep or kind not in SECTION_KINDS or kind == "circus":
        return None
    return "env:" if kind == "env" else kind


def _unknown_section(section: Section, problems: Problems) -> None:
    kind, sep, rest = section.name.partition(":")
    hint = nearest(kind, SECTION_KINDS)
    suggestion = f"{hint}{sep}{rest}" if hint else None
    problems.warn(
        f"unknown section [{section.name}] (ignored)",
        section.origin,
        section.name,
        suggestion=suggestion,
    )


def _build(
    sections: list[Section],
    problems: Problems,
    environ: Mapping[str, str],
    path: str | None,
    files: list[str],
    log_warnings: bool,
    import_names: bool,
) -> CircusConfig:
    by_kind: dict[str, list[Section]] = {k: [] for k in BY_KIND}
    for section in sections:
        kind = _kind(section.name)
        if kind is None:
            _unknown_section(section, problems)
        elif (
            not section.entries and kind in ("watcher", "socket", "plugin") and section.origin.file
        ):
            problems.warn("empty section (ignored)", section.origin, section.name)
        else:
            by_kind[kind].append(section)
    base = envlib.global_env(next(iter(by_kind["env"]), None), environ, problems)
    env_pairs = envlib.env_sections(by_kind["env:"], environ, base, problems)
    env_sections = [env_section for env_section, _ in env_pairs]
    global_lookup = {**environ, **base}
    circus_section = next(iter(by_kind["circus"]), None)
    settings, circus_entries = build_settings(circus_section, global_lookup, problems)
    for section in [*by_kind["circus"][:1], *by_kind["socket"], *by_kind["plugin"]]:
        warn_left_placeholders(section, global_lookup, problems)
    sockets = [
        s for s in (build_socket(x, global_lookup, problems) for x in by_kind["socket"]) if s
    ]
    watchers = _build_watchers(
        by_kind["watcher"], environ, base, env_sections, problems, import_names
    )
    plugins = []
    plugin_sections = []
    for section in by_kind["plugin"]:
        plugin = build_plugin(section, global_lookup, problems)
        if plugin is not None:
            plugins.append(plugin)
            plugin_sections.append((plugin, section.name, section.entries["use"].origin))
            if plugin.use == FLAPPING_PLUGIN:
                check_flapping_plugin(plugin, section.name, section.entries, problems)
            if import_names:
                use = section.entries["use"]
                constructor = {
                    k: v for k, v in plugin.config.items() if k not in plugin.watcher_options
                }
                check_plugin_use(
                    plugin.use, section.name, problems, use.origin, constructor, section.entries
                )
    _check_all(by_kind, settings, circus_entries, sockets, watchers, plugins, problems)
    check_flapping_sections(
        plugin_sections, [(w, s.name, s.entries) for w, s in watchers], problems
    )
    problems.raise_if_errors()
    config = CircusConfig(
        circus=settings,
        watchers=tuple(sorted((w for w, _ in watchers), key=lambda w: w.name.lower())),
        sockets=tuple(sorted(sockets, key=lambda s: s.name)),
        plugins=tuple(sorted(plugins, key=lambda p: p.name.lower())),
        env=FrozenMap(base),
        env_sections=tuple(env_sections),
        path=path,
        files=tuple(files),
    )
    config = with_support(config, problems, environ)  # plugin:NAME, circusd-stats...
    # after the support watchers are added: [env:plugin:NAME] applies to a plugin's watcher
    check_env_patterns(
        [(e, s.origin, s.name) for e, s in env_pairs], [w.name for w in config.watchers], problems
    )
    problems.raise_if_errors()
    warnings = problems.sorted_warnings()
    for warning in warnings if log_warnings else ():
        log.warning("config: %s", warning)
    return records.replace(config, warnings=warnings)


def _build_watchers(
    sections: list[Section],
    environ: Mapping[str, str],
    base: Mapping[str, str],
    env_sections: list[EnvSection],
    problems: Problems,
    import_names: bool,
) -> list[tuple[WatcherConfig, Section]]:
    watchers = []
    for section in sections:
        try:
            name = check_name(section.name.split(":", 1)[1])
        except ValueError as exc:
            problems.error(str(exc), section.origin, section.name)
            continue
        copy_env = _peek_bool(section, "copy_env", {**environ, **base})
        values = {"env": envlib.watcher_env(name, copy_env, environ, base, env_sections)}
        lookup = envlib.lookup_env(name, environ, base, env_sections)
        values, free = gather(section.entries.values(), section.name, problems, values, lookup)
        if import_names:  # also when the section has other errors: all are reported at once
            check_watcher_names(values, section.name, problems, section.entries, section.origin)
        watcher = finish(
            name, values, free, problems, section.name, section.origin, section.entries
        )
        if watcher is not None:
            watchers.append((watcher, section))
            if import_names:  # a configuration to run here: its users and groups exist here
                check_users(watcher, problems, section.origin, section.entries)
            warn_left_placeholders(section, lookup, problems, spawn_variables(watcher, 1))
    return watchers


def _peek_bool(section: Section, key: str, lookup: Mapping[str, str]) -> bool:
    entry = section.entries.get(key)
    if entry is None:
        return False
    value = substitute_env(entry.value, lookup) if isinstance(entry.value, str) else entry.value
    try:
        return to_bool(value)
    except ValueError:
        return False  # reported by gather()


def _check_all(
    by_kind: Mapping[str, list[Section]],
    settings: CircusSettings,
    circus_entries: Mapping[str, Entry],
    sockets: list[SocketConfig],
    watchers: list[tuple[WatcherConfig, Section]],
    plugins: list[PluginConfig],
    problems: Problems,
) -> None:
    names = [(w.name, s.origin, s.name) for w, s in watchers]
    check_unique(names, "watcher", problems)
    plugin_sections = {s.name.split(":", 1)[1].strip(): s for s in by_kind["plugin"]}
    check_unique(
        [
            (p.name, plugin_sections[p.name].origin, f"plugin:{p.name}")
            for p in plugins
            if p.name in plugin_sections
        ],
        "plugin",
        problems,
    )
    by_name = {s.name: s for s in sockets}
    socket_origins = {s.name.split(":", 1)[1].strip().lower(): s.origin for s in by_kind["socket"]}
    check_unique(
        [(s.name, socket_origins.get(s.name, NOWHERE), f"socket:{s.name}") for s in sockets],
        "socket",
        problems,
    )
    for watcher, section in watchers:
        origin = section.origin
        check_watcher_sockets(watcher, by_name, problems, origin, section.entries)
        check_process_count(watcher, settings, problems, origin, section.entries)
        if watcher.on_demand and not watcher.socket_refs:
            problems.warn(
                "on_demand waits for a connection on the watcher's sockets, but it "
                "uses none: it will never start",
                origin,
                f"watcher:{watcher.name}",
                "on_demand",
            )
    check_endpoints(settings, circus_entries, problems)
    check_discovery(settings, circus_entries, problems)
    check_command_modules(settings, circus_entries, problems)
