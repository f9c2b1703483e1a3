"""``circus.plugins`` of the original Circus: not built yet.

Plugins (``[plugin:NAME]`` sections, ``circus-plugin``, :class:`CircusPlugin` and the built-in
ones such as ``circus.plugins.flapping.Flapping``) are planned: circusd warns about plugin
sections and does not run them. Until then, importing a plugin name says so.
"""

from circus.util.compat import facade

_NOT_BUILT = "plugins are not implemented yet in this version of circus"
_MISSING = {"CircusPlugin": _NOT_BUILT, "get_plugin_cmd": _NOT_BUILT, "main": _NOT_BUILT}
__getattr__, __dir__ = facade(__name__, {}, _MISSING)
