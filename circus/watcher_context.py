"""What a watcher may use of the arbiter that runs it, and nothing else.

A :class:`~circus.watcher.Watcher` is given its host and one :class:`WatcherContext`, built by
the arbiter and shared by all its watchers. The watcher modules never import the arbiter: what
they need is listed here, so a test (or another owner) can run a watcher with a context of its
own, and the layers stay one-way (arbiter -> watcher -> hosts -> config; see docs/dev/lint.md).

The parts that change while circusd runs (the configuration after ``reloadconfig``, the
kernel's recovery) are callables read at the moment they are needed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from circus.config import CircusSettings, PluginConfig
from circus.hosts.base import ProcessHost
from circus.registry import ProcessRegistry
from circus.spawning import SpawnContext
from papa_kernel.records import frozen_record


def _never(_host: ProcessHost) -> bool:
    return False


def _no(*_args: object) -> bool:
    return False


def _no_plugins() -> Sequence[PluginConfig]:
    return ()


@frozen_record
class WatcherContext:
    """The arbiter as a watcher sees it."""

    #: publish an event: ``(topic, payload)``, topic ``watcher.<name>.<event>``
    publish: Callable[[str, Mapping[str, Any]], None]
    #: where spawned and adopted processes are registered (routes their output and exits)
    registry: ProcessRegistry
    #: the ``[circus]`` settings now (``max_processes`` is read live)
    settings: Callable[[], CircusSettings]
    #: the configured sockets, umask and default working directory now (see spawning)
    spawn_context: Callable[[], SpawnContext]
    #: True while ``host`` is a lost kernel not recovered yet (status says ``recovering``)
    kernel_recovering: Callable[[ProcessHost], bool] = _never
    #: ``circusd --reload-outdated``: replace outdated processes of every watcher
    reload_outdated: Callable[[], bool] = _no
    #: the ``[plugin:NAME]`` sections now (a flapping plugin section is restart policy)
    plugins: Callable[[], Sequence[PluginConfig]] = _no_plugins
    #: what hooks receive as their ``arbiter`` argument (the manual's hook signature); the
    #: watcher only passes it on, never uses it
    hook_arbiter: object = None
