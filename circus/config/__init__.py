"""circus.config: the configuration model, parser and validator (pure: no processes, no sockets).

Entry points
------------
- :func:`load_config(path) <circus.config.loader.load_config>` -> :class:`CircusConfig`: read an
  INI file and its includes.
- :func:`config_from_dict(mapping) <circus.config.loader.config_from_dict>` -> CircusConfig: the
  dict form ``get_arbiter()`` takes (``{"watchers": [...], "sockets": ..., "endpoint": ...}``).
- :func:`diff(old, new) <circus.config.diff.diff>` -> :class:`ConfigDiff`: what ``reloadconfig``
  must add, remove, update live or restart.

Both loaders raise :class:`~circus.errors.ConfigError` listing *every* problem found (each a
:class:`~circus.errors.ConfigProblem` with file, line, section, key, message and a "did you
mean" suggestion); warnings are in ``config.warnings`` (and ``ConfigError.warnings``).

The model (:mod:`circus.config.model`)
--------------------------------------
Frozen records (:mod:`papa_kernel.records`) that compare by value: :class:`CircusConfig`
(``circus``, ``watchers``, ``sockets``, ``plugins``, ``env``, ``env_sections``),
:class:`CircusSettings`, :class:`WatcherConfig`, :class:`SocketConfig`, :class:`PluginConfig`,
:class:`StreamConfig`, :class:`HookSpec`, :class:`FrozenMap`.

For the control commands
------------------------
- :mod:`circus.config.converters`: ``to_bool``, ``to_signum``, ``to_int``, ``to_duration``,
  ``to_size``, ``to_octal`` (umask), ``to_rlimit``, ``to_env``...
- :mod:`circus.config.schema`: ``WATCHER_OPTIONS`` (key -> :class:`OptionSpec` with converter,
  default and ``restart``), ``convert_watcher_option(key, value)``, ``needs_restart(key)``,
  ``watcher_option_values(watcher)`` (what ``options``/``get`` return).
- :func:`watcher_from_options` (``add``) and :func:`apply_watcher_options` (``set``), and
  :func:`diff_watcher` to tell a live update from a restart.

For spawning (:mod:`circus.config.argv`)
----------------------------------------
:func:`spawn_variables` (``$(circus.wid)``, ``$(circus.sockets.NAME)``, ``$(circus.env.X)``...)
and :func:`build_argv` (cmd + args, ``shell``/``shell_args``); :func:`substitute`
(:mod:`circus.config.substitution`) is the placeholder engine (unknown placeholders are left
verbatim).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from circus.config.argv import build_argv, spawn_variables
    from circus.config.converters import (
        to_bool,
        to_duration,
        to_int,
        to_octal,
        to_rlimit,
        to_signum,
        to_size,
    )
    from circus.config.diff import ConfigDiff, WatcherChange, diff, diff_watcher
    from circus.config.loader import config_from_dict, load_config
    from circus.config.model import (
        CircusConfig,
        CircusSettings,
        EnvSection,
        FrozenMap,
        HookSpec,
        PluginConfig,
        SocketConfig,
        StreamConfig,
        WatcherConfig,
    )
    from circus.config.schema import (
        WATCHER_OPTIONS,
        OptionSpec,
        convert_watcher_option,
        needs_restart,
        watcher_option_values,
    )
    from circus.config.substitution import substitute
    from circus.config.watchers import apply_watcher_options, watcher_from_options

#: The names above -> the module that defines them. They are imported when first asked for
#: (``from circus.config import load_config``): a plugin process or circusd-stats that needs
#: one converter (``circus.config.converters``) does not import the loader, the model and the
#: schema with it (~10-15 ms of CPU at each start).
_EXPORTS = {
    "build_argv": "argv",
    "spawn_variables": "argv",
    "to_bool": "converters",
    "to_duration": "converters",
    "to_int": "converters",
    "to_octal": "converters",
    "to_rlimit": "converters",
    "to_signum": "converters",
    "to_size": "converters",
    "ConfigDiff": "diff",
    "WatcherChange": "diff",
    "diff": "diff",
    "diff_watcher": "diff",
    "config_from_dict": "loader",
    "load_config": "loader",
    "CircusConfig": "model",
    "CircusSettings": "model",
    "EnvSection": "model",
    "FrozenMap": "model",
    "HookSpec": "model",
    "PluginConfig": "model",
    "SocketConfig": "model",
    "StreamConfig": "model",
    "WatcherConfig": "model",
    "WATCHER_OPTIONS": "schema",
    "OptionSpec": "schema",
    "convert_watcher_option": "schema",
    "needs_restart": "schema",
    "watcher_option_values": "schema",
    "substitute": "substitution",
    "apply_watcher_options": "watchers",
    "watcher_from_options": "watchers",
}

__all__ = [
    "WATCHER_OPTIONS",
    "CircusConfig",
    "CircusSettings",
    "ConfigDiff",
    "EnvSection",
    "FrozenMap",
    "HookSpec",
    "OptionSpec",
    "PluginConfig",
    "SocketConfig",
    "StreamConfig",
    "WatcherChange",
    "WatcherConfig",
    "apply_watcher_options",
    "build_argv",
    "config_from_dict",
    "convert_watcher_option",
    "diff",
    "diff_watcher",
    "load_config",
    "needs_restart",
    "spawn_variables",
    "substitute",
    "to_bool",
    "to_duration",
    "to_int",
    "to_octal",
    "to_rlimit",
    "to_signum",
    "to_size",
    "watcher_from_options",
    "watcher_option_values",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # asked once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _Package(types.ModuleType):
    """``circus.config.diff`` is the function :func:`~circus.config.diff.diff`, as when this
    package imported its modules at once, also after its module was imported: the import
    system then sets the package's ``diff`` to the module, which this keeps the function of."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "diff" and isinstance(value, types.ModuleType):
            value = value.diff
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
