"""``circus.sockets`` of the original Circus.

Its socket classes have no counterpart: circusd (or papa-kernel, with ``use_papa``) binds every
socket itself from its description, so that it outlives circusd restarts. Describe sockets as
``[socket:NAME]`` sections, or as dicts in ``get_arbiter(sockets=[{"name": ..., "host": ...,
"port": ...}])``; ``circusctl listsockets`` lists them.
"""

from circus.util.compat import facade

_USE_CONFIG = (
    "sockets are bound by circusd or papa-kernel from their description: use a "
    "[socket:NAME] section or get_arbiter(sockets=[{...}]) (docs/library.md)"
)
_MISSING = {"CircusSocket": _USE_CONFIG, "CircusSockets": _USE_CONFIG, "addrinfo": _USE_CONFIG}
__getattr__, __dir__ = facade(__name__, {}, _MISSING)
