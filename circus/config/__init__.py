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
