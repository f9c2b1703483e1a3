"""``circus.plugins``: :class:`CircusPlugin` (the base class of plugins) and the built-in plugins
(``circus.plugins.statsd.StatsdEmitter``, ``circus.plugins.watchdog.WatchDog``...).

Each plugin runs in its own process, started by ``circus-plugin`` (:mod:`circus.cli.plugin`);
circusd runs one for each ``[plugin:NAME]`` section, under the watcher ``plugin:NAME``
(:mod:`circus.config.support`). ``plugins.main()`` is the original's name for that runner.
"""

from circus.plugins.base import CircusPlugin
from circus.util.compat import facade

_ALIASES = {"main": "circus.cli.plugin:main"}
_MISSING = {
    "get_plugin_cmd": "circusd builds a plugin's watcher with "
    "circus.config.support.plugin_watcher(plugin, config)",
}
__getattr__, __dir__ = facade(__name__, _ALIASES, _MISSING)
__all__ = ["CircusPlugin"]
