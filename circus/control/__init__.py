"""The control channel of circusd: controller (ZeroMQ ROUTER), message codec and commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from circus.arbiter import Arbiter
    from circus.control.controller import Controller


def control_channel(arbiter: Arbiter) -> Controller:
    """The control channel of ``arbiter`` on its configured endpoint (the ``control`` factory
    circusd and :func:`circus.get_arbiter` give the arbiter). The controller and its commands
    are imported here, when the arbiter binds the channel after its workers started, so they do
    not delay the first spawns."""
    from circus.control.controller import Controller

    return Controller(arbiter, arbiter.endpoint, arbiter.settings)
