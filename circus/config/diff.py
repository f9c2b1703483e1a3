"""What changed between two configurations: the base of ``reloadconfig``.

:func:`diff` compares two :class:`CircusConfig` and returns a :class:`ConfigDiff`:

- ``circus``: the ``[circus]`` keys that differ (circusd decides what a change there means);
- watchers, sockets and plugins added, removed and changed, by name (watchers and plugins
  case-insensitively, so renaming ``web`` to ``Web`` is a live change of ``name``);
- for each changed watcher, a :class:`WatcherChange` with the changed keys and ``restart``:
  True when its processes must be restarted (cmd, args, env, working_dir, uid, gid, shell,
  use_papa, rlimits..., or a socket it uses changed or was re-created), False when every change
  can be applied live (numprocesses, graceful_timeout, hooks, streams, ... see
  :data:`circus.config.schema.WATCHER_OPTIONS`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from circus.config.model import CircusConfig, WatcherConfig
from circus.config.schema import field_needs_restart
from papa_kernel import records
from papa_kernel.records import frozen_record

_Item = TypeVar("_Item")


@frozen_record
class WatcherChange:
    """One watcher present in both configurations with different settings."""

    name: str  # the new configuration's spelling
    keys: frozenset[str]  # WatcherConfig field names that differ
    sockets: frozenset[str] = frozenset()  # sockets it uses that changed
    restart: bool = False  # processes must be restarted; else apply `keys` live

    @property
    def live_only(self) -> bool:
        return not self.restart


@frozen_record
class ConfigDiff:
    """The difference between two configurations. Tuples are sorted by name."""

    circus: frozenset[str] = frozenset()
    watchers_added: tuple[str, ...] = ()
    watchers_removed: tuple[str, ...] = ()
    watchers_changed: tuple[WatcherChange, ...] = ()
    sockets_added: tuple[str, ...] = ()
    sockets_removed: tuple[str, ...] = ()
    sockets_changed: tuple[str, ...] = ()
    plugins_added: tuple[str, ...] = ()
    plugins_removed: tuple[str, ...] = ()
    plugins_changed: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in records.fields(self))

    def __bool__(self) -> bool:
        return not self.empty


def _fields_changed(old: object, new: object) -> frozenset[str]:
    return frozenset(
        f.name
        for f in records.fields(old)
        if f.compare and getattr(old, f.name) != getattr(new, f.name)
    )


def diff_watcher(
    old: WatcherConfig, new: WatcherConfig, changed_sockets: Iterable[str] = ()
) -> WatcherChange | None:
    """How ``new`` differs from ``old`` (None if identical and no socket it uses changed).
    Also what the ``set`` command needs to choose between a live update and a restart."""
    keys = _fields_changed(old, new)
    sockets = frozenset(changed_sockets) & (old.socket_refs | new.socket_refs)
    if not keys and not sockets:
        return None
    restart = bool(sockets) or any(field_needs_restart(key) for key in keys)
    return WatcherChange(new.name, keys, sockets, restart)


def _by_name(items: Iterable[_Item], key: Callable[[_Item], str]) -> dict[str, _Item]:
    return {key(item): item for item in items}


def diff(old: CircusConfig, new: CircusConfig) -> ConfigDiff:
    """What :meth:`reloadconfig` must do to go from ``old`` to ``new``."""
    old_s, new_s = _by_name(old.sockets, lambda s: s.name), _by_name(new.sockets, lambda s: s.name)
    sockets_changed = sorted(n for n in old_s.keys() & new_s.keys() if old_s[n] != new_s[n])
    recreated = set(sockets_changed) | (old_s.keys() - new_s.keys())

    old_w = _by_name(old.watchers, lambda w: w.name.lower())
    new_w = _by_name(new.watchers, lambda w: w.name.lower())
    changes = []
    for lowered in sorted(old_w.keys() & new_w.keys()):
        change = diff_watcher(old_w[lowered], new_w[lowered], recreated)
        if change is not None:
            changes.append(change)

    old_p = _by_name(old.plugins, lambda p: p.name.lower())
    new_p = _by_name(new.plugins, lambda p: p.name.lower())
    return ConfigDiff(
        circus=_fields_changed(old.circus, new.circus),
        watchers_added=tuple(sorted(new_w[n].name for n in new_w.keys() - old_w.keys())),
        watchers_removed=tuple(sorted(old_w[n].name for n in old_w.keys() - new_w.keys())),
        watchers_changed=tuple(changes),
        sockets_added=tuple(sorted(new_s.keys() - old_s.keys())),
        sockets_removed=tuple(sorted(old_s.keys() - new_s.keys())),
        sockets_changed=tuple(sockets_changed),
        plugins_added=tuple(sorted(new_p[n].name for n in new_p.keys() - old_p.keys())),
        plugins_removed=tuple(sorted(old_p[n].name for n in old_p.keys() - new_p.keys())),
        plugins_changed=tuple(
            sorted(new_p[n].name for n in old_p.keys() & new_p.keys() if old_p[n] != new_p[n])
        ),
    )
