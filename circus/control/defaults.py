"""Default endpoints of circusd's ZeroMQ sockets, as the configuration defines them.

DESIGN.md: unix sockets (ipc://) in the private runtime directory
(:func:`papa_kernel.paths.runtime_dir`). :class:`circus.config.model.CircusSettings` takes its
defaults from the same functions (:mod:`circus.util.endpoints`), so circusctl, the client
library and circusd always agree (``circus.sock``, ``pubsub.sock``, ``stats.sock``). They are
computed at call time: the runtime directory depends on ``$XDG_RUNTIME_DIR`` and the user.
Importing them costs no configuration package: the client tools start without it.
"""

from __future__ import annotations

from circus.util.endpoints import default_endpoint, default_pubsub_endpoint, default_stats_endpoint

__all__ = [
    "DEFAULT_TIMEOUT",
    "default_endpoint",
    "default_pubsub_endpoint",
    "default_stats_endpoint",
]

#: Seconds a client waits for circusd's reply, as the original (circusctl's ``--timeout``);
#: here so that circusctl names it without importing the client (and ZeroMQ) for ``--help``.
DEFAULT_TIMEOUT = 5.0
