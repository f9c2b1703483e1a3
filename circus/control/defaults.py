"""Default endpoints of circusd's ZeroMQ sockets (DESIGN.md: private runtime dir, ipc://).

``ipc://<runtime dir>/circus.sock`` (control), ``circus-pubsub.sock`` (events),
``circus-stats.sock`` (circusd-stats), where the runtime dir is
:func:`papa_kernel.paths.runtime_dir` (``$XDG_RUNTIME_DIR/circus``, ``/run/circus`` as root,
else ``/tmp/circus-$UID``). circusctl, the client library and the configuration's defaults use
these functions so they always agree.
"""

from __future__ import annotations

import os

from papa_kernel.paths import runtime_dir

CONTROL_SOCKET_NAME = "circus.sock"
PUBSUB_SOCKET_NAME = "circus-pubsub.sock"
STATS_SOCKET_NAME = "circus-stats.sock"


def default_endpoint() -> str:
    """Default control endpoint (ROUTER)."""
    return "ipc://" + os.path.join(runtime_dir(), CONTROL_SOCKET_NAME)


def default_pubsub_endpoint() -> str:
    """Default events endpoint (PUB)."""
    return "ipc://" + os.path.join(runtime_dir(), PUBSUB_SOCKET_NAME)


def default_stats_endpoint() -> str:
    """Default circusd-stats endpoint (PUB)."""
    return "ipc://" + os.path.join(runtime_dir(), STATS_SOCKET_NAME)
