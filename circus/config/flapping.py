"""Flapping options: the ``[plugin:NAME]`` section that uses the original's flapping plugin, and
the watchers' ``flapping.*`` overrides.

The original ran flapping detection as a plugin process listening to ``reap`` events and
sending ``stop``/``start``. Here it is part of circusd's restart policy
(:mod:`circus.restart_policy`): a plugin section whose ``use`` is :data:`FLAPPING_PLUGIN` turns
it on and gives the defaults of every watcher (``attempts``, ``window``, ``retry_in``,
``max_retry``; ``active = false`` turns it off); no process runs for it. A watcher's
``flapping.KEY`` overrides a default; ``flapping.active = false``, ``check_flapping = false``
or ``respawn = false`` (nothing restarts, nothing flaps) turns it off for that watcher.
Without such a section there is no flapping detection, as in the original (whose
``flapping.*`` keys did nothing without the plugin): the loader warns then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from circus.config.ini import Entry
from circus.config.model import PluginConfig, WatcherConfig
from circus.config.problems import NOWHERE, Origin, Problems
from circus.config.schema import FLAPPING_OPTIONS
from circus.util.suggest import nearest

#: The ``use`` of the original's flapping plugin: circusd applies it itself (no process runs
#: for it: :data:`circus.config.support.BUILT_INTO_CIRCUSD`).
FLAPPING_PLUGIN = "circus.plugins.flapping.Flapping"
#: The manual's defaults: 2 exits within 1 s is flapping; retry after 7 s, give up after 5.
DEFAULTS: Mapping[str, Any] = {"attempts": 2, "window": 1.0, "retry_in": 7.0, "max_retry": 5}


def flapping_plugin(plugins: Iterable[PluginConfig]) -> PluginConfig | None:
    """The section that configures flapping (the first one using :data:`FLAPPING_PLUGIN`,
    by name), None if there is none."""
    return next((p for p in plugins if p.use == FLAPPING_PLUGIN), None)


def flapping_settings(
    plugins: Iterable[PluginConfig], watcher: WatcherConfig
) -> dict[str, Any] | None:
    """``attempts``, ``window``, ``retry_in``, ``max_retry`` for ``watcher`` (the plugin's
    values, then the watcher's ``flapping.*``, else :data:`DEFAULTS`); None when flapping
    detection is off for it (no flapping plugin, the plugin or the watcher not active,
    ``check_flapping = false``, or ``respawn = false``: nothing restarts, nothing flaps).
    Values were checked at load (:func:`check_flapping_plugin`)."""
    plugin = flapping_plugin(plugins)
    if plugin is None or not watcher.check_flapping or not watcher.respawn:
        return None
    defaults = _converted(plugin.config)
    merged = {**defaults, **dict(watcher.flapping)}
    if not defaults.get("active", True) or not merged.get("active", True):
        return None  # the plugin is off (the original did not run it), or off for the watcher
    return {key: merged.get(key, default) for key, default in DEFAULTS.items()}


def check_flapping_plugin(
    plugin: PluginConfig, section: str, entries: Mapping[str, Entry], problems: Problems
) -> None:
    """Record an error for each flapping option of the plugin section that does not convert
    (at its ``file:line [section] key``), and a warning for each key that is not a flapping
    option (circusd applies the section itself: a misspelt ``attemps`` would do nothing)."""
    for key in plugin.config:
        if key not in FLAPPING_OPTIONS:
            problems.warn(
                f"unknown flapping option {key!r} (ignored)",
                _origin(entries, key),
                section,
                key,
                nearest(key, FLAPPING_OPTIONS),
            )
    for key, convert in FLAPPING_OPTIONS.items():
        if key not in plugin.config:
            continue
        try:
            convert(plugin.config[key])
        except (TypeError, ValueError) as exc:
            problems.error(str(exc), _origin(entries, key), section, key)


def check_flapping_sections(
    plugins: Iterable[tuple[PluginConfig, str, Origin]],
    watchers: Iterable[tuple[WatcherConfig, str, Mapping[str, Entry]]],
    problems: Problems,
) -> None:
    """Warnings: a second flapping plugin section (not used), ``flapping.*`` keys with no
    flapping plugin section (they do nothing, as in the original)."""
    flapping = sorted(
        ((p, section, origin) for p, section, origin in plugins if p.use == FLAPPING_PLUGIN),
        key=lambda found: found[0].name.lower(),  # the order of CircusConfig.plugins
    )
    for _plugin, section, origin in flapping[1:]:
        problems.warn(
            f"a second flapping plugin section: only [{flapping[0][1]}] is used",
            origin,
            section,
            "use",
        )
    if flapping:
        return
    for watcher, section, entries in watchers:
        keys = [key for key in entries if key.startswith("flapping.")]
        if watcher.flapping and keys:
            problems.warn(
                "flapping.* options do nothing without a [plugin:NAME] section using "
                f"{FLAPPING_PLUGIN} (flapping detection is off)",
                entries[keys[0]].origin,
                section,
                keys[0],
            )


def _converted(config: Mapping[str, Any]) -> dict[str, Any]:
    return {key: convert(config[key]) for key, convert in FLAPPING_OPTIONS.items() if key in config}


def _origin(entries: Mapping[str, Entry], key: str) -> Origin:
    entry = entries.get(key)
    return entry.origin if entry is not None else NOWHERE


__all__ = [
    "DEFAULTS",
    "FLAPPING_PLUGIN",
    "check_flapping_plugin",
    "check_flapping_sections",
    "flapping_plugin",
    "flapping_settings",
]
