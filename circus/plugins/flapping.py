"""``circus.plugins.flapping.Flapping``: the original's flapping plugin, built into circusd.

circusd detects flapping itself, as part of each watcher's restart policy
(:mod:`circus.restart_policy`): a ``[plugin:NAME]`` section with
``use = circus.plugins.flapping.Flapping`` turns it on and sets its defaults
(:mod:`circus.config.flapping`), and no plugin process runs for it
(:data:`circus.config.support.BUILT_INTO_CIRCUSD`). The class stays importable under the
original's name so that configurations, ``circusd --check-config`` and code naming it keep
working; run by hand (``circus-plugin circus.plugins.flapping.Flapping``) it only logs that.
"""

from __future__ import annotations

import logging

from circus.plugins.base import CircusPlugin

log = logging.getLogger(__name__)

#: ``max_retry`` value for "retry forever" (the original's constant).
INFINITE_RETRY = -1


class Flapping(CircusPlugin):
    """Options (the manual's), each overridable per watcher with a ``flapping.`` prefix:
    ``attempts`` (2) exits within ``window`` (1 s) is flapping; the watcher is stopped and
    started again after ``retry_in`` (7 s), at most ``max_retry`` (5; -1: always) times in a
    row, then it stays stopped; ``active`` (true). circusd applies them, not this class."""

    name = "flapping"

    def handle_init(self) -> None:
        log.info("flapping detection runs inside circusd; this plugin process has nothing to do")

    def handle_recv(self, data: list[bytes]) -> None:
        """Nothing: circusd's restart policy already acts on every exit."""
