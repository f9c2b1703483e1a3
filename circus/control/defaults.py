"""Default endpoints of circusd's ZeroMQ sockets, as the configuration defines them.

DESIGN.md: unix sockets (ipc://) in the private runtime directory
(:func:`papa_kernel.paths.runtime_dir`). The values come from
:class:`circus.config.model.CircusSettings`' defaults, so circusctl, the client library and
circusd always agree (``circus.sock``, ``pubsub.sock``, ``stats.sock``). They are computed at
call time: the runtime directory depends on ``$XDG_RUNTIME_DIR`` and the user.
"""

from __future__ import annotations

from circus.config.model import CircusSettings


def default_endpoint() -> str:
    """Default control endpoint (ROUTER)."""
    return CircusSettings().endpoint


def default_pubsub_endpoint() -> str:
    """Default events endpoint (PUB)."""
    return CircusSettings().pubsub_endpoint


def default_stats_endpoint() -> str:
    """Default circusd-stats endpoint (PUB)."""
    return CircusSettings().stats_endpoint
