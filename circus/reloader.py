"""``reloadconfig``: re-read the configuration file and converge to it, built on
:func:`circus.config.diff`.

Order matters, so that no process ever points at a socket that is gone:

1. removed watchers are stopped and removed;
2. changed sockets are re-created (their users are reloaded afterwards), removed sockets
   closed, added sockets bound;
3. changed watchers: live-only changes (numprocesses, hooks, timeouts...) are applied in place;
   changes that shape processes (cmd, env, sockets...) reload the watcher gracefully (new
   processes first, then the old ones are stopped); a change of ``use_papa`` moves the watcher
   to the other host (stop, then start anew);
4. added watchers are created and started (if autostart).

Changes to ``[circus]`` endpoints cannot be applied to a running circusd; they are reported in
the log and take effect at the next start (``circusctl quit`` keeps kernel-hosted workers
running, so that restart costs no downtime).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Protocol

from circus.config import CircusConfig, ConfigDiff, WatcherConfig, diff, load_config
from circus.errors import ConfigError, ConfigProblem, HostError, MessageError
from circus.hostset import HostSet
from circus.spawning import socket_spec
from circus.watcher import Watcher
from papa_kernel import records

log = logging.getLogger(__name__)

#: [circus] settings a running circusd applies at once; the others wait for a restart.
LIVE_SETTINGS = frozenset(
    {
        "warmup_delay",
        "check_delay",
        "loglevel",
        "debug_gc",
        "max_processes",
        # the circusd-stats watcher's command line: the reload adds, removes or restarts it
        "statsd",
        "stats_endpoint",
        "statsd_close_outputs",
        "statsd_interval",
    }
)


class Reloadable(Protocol):
    """What ``reloadconfig`` needs of the arbiter (kept here, so this module does not import
    the arbiter that calls it)."""

    config_path: str | None
    config: CircusConfig
    hosts: HostSet

    def get_watcher(self, name: str) -> Watcher: ...

    async def create_watcher(self, wconf: WatcherConfig) -> Watcher: ...

    def rm_watcher(self, name: str, nostop: bool = False) -> Awaitable[None]: ...


def read_config(arbiter: Reloadable) -> CircusConfig:
    """The configuration file as it is now, checked as at start-up (dotted names imported).
    Raises ConfigError listing every problem, or MessageError without a file: ``reloadconfig``
    refuses it in its reply and nothing changes."""
    if not arbiter.config_path:
        raise MessageError("reloadconfig: circusd was not started from a configuration file")
    new = load_config(arbiter.config_path)
    check_new_addresses(arbiter.config, new, arbiter.config_path)
    return new


def check_new_addresses(old: CircusConfig, new: CircusConfig, path: str | None) -> None:
    """Every address ``new`` adds must be free (a TCP/UDP port) or usable (a unix path), or the
    reload is refused before anything changes (a ConfigError naming each ``[socket:NAME]``):
    once under way, a socket that cannot be bound would stop the convergence halfway.
    Addresses of ``old`` are not checked (this circusd holds them, and frees them before it
    binds their new users; ports are compared without the host, so that a new host name for a
    held port is not mistaken for another program)."""
    from circus.hosts.local_sockets import check_bindable  # here: papa_kernel.sockets with it

    held = {s.path or s.port for s in old.sockets}
    problems = []
    for sconf in new.sockets:
        spec = socket_spec(sconf)
        if spec.family != "unix" and (not spec.port or spec.reuseport):
            continue  # any port; one socket per process (each binds its own)
        if spec.systemd or (sconf.path or sconf.port) in held:
            continue
        try:
            check_bindable(spec)
        except HostError as exc:
            problems.append(ConfigProblem(str(exc), file=path, section=f"socket:{sconf.name}"))
    if problems:
        raise ConfigError(problems)


async def converge(arbiter: Reloadable, new: CircusConfig) -> dict[str, list[str]]:
    """Apply the difference between the running configuration and ``new`` (see the module
    docstring for the order); returns what was added, removed, changed or needs a restart."""
    old = arbiter.config
    changes = diff(old, new)
    report: dict[str, list[str]] = {"added": [], "removed": [], "changed": [], "restart": []}
    pending = sorted(changes.circus - LIVE_SETTINGS)
    if pending:
        log.warning(
            "reloadconfig: [circus] %s changed; restart circusd to apply", ", ".join(pending)
        )
        report["restart"] = pending

    for name in changes.watchers_removed:
        await arbiter.rm_watcher(name)
        report["removed"].append(name)

    moved = [c.name for c in changes.watchers_changed if "use_papa" in c.keys]
    for name in moved:
        await arbiter.rm_watcher(name)

    arbiter.config = new
    try:
        await arbiter.hosts.replace_sockets(changes)
    except Exception:
        # no watcher was changed or added yet: record only what was applied, so that the
        # same reloadconfig, once the cause is fixed, applies the rest (not "no change")
        arbiter.config = _applied_before_watchers(old, new, changes, moved, arbiter.hosts)
        raise

    for change in changes.watchers_changed:
        wconf = _watcher(new, change.name)
        if change.name in moved:
            watcher = await arbiter.create_watcher(wconf)
            if wconf.autostart:
                await watcher.start()
        else:
            await arbiter.get_watcher(change.name).replace_config(wconf, change.restart)
        report["changed"].append(change.name)

    for name in changes.watchers_added:
        wconf = _watcher(new, name)
        watcher = await arbiter.create_watcher(wconf)
        if wconf.autostart:
            await watcher.start()
        report["added"].append(name)
    log.info("reloadconfig: %s", {k: v for k, v in report.items() if v} or "no change")
    return report


def _applied_before_watchers(
    old: CircusConfig, new: CircusConfig, changes: ConfigDiff, moved: list[str], hosts: HostSet
) -> CircusConfig:
    """``new`` as far as it was applied when binding the sockets failed: removed watchers are
    gone, changed ones still have their old settings, added and moved ones are not there yet,
    and of the sockets only those the hosts hold now."""
    pending = {name.lower() for name in (*changes.watchers_added, *moved)}
    changed = {change.name.lower() for change in changes.watchers_changed}
    watchers = []
    for wconf in new.watchers:
        lowered = wconf.name.lower()
        if lowered in pending:
            continue
        previous = old.get_watcher(wconf.name) if lowered in changed else None
        watchers.append(previous or wconf)
    sockets = tuple(s for s in new.sockets if s.name in hosts.sockets)
    return records.replace(new, watchers=tuple(watchers), sockets=sockets)


def _watcher(config: CircusConfig, name: str) -> WatcherConfig:
    """The watcher ``name`` of ``config`` (the diff names only watchers it has)."""
    wconf = config.get_watcher(name)
    assert wconf is not None, name
    return wconf
