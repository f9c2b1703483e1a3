"""The states of a watcher and the transitions between them (one table, checked in one place:
:meth:`circus.watcher.Watcher._transition`)."""

from __future__ import annotations

import enum


class WatcherState(enum.Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    ACTIVE = "active"
    STOPPING = "stopping"


S = WatcherState
LEGAL_TRANSITIONS = {
    (S.STOPPED, S.STARTING),  # start
    (S.STARTING, S.ACTIVE),  # processes spawned, after_start ok
    (S.STARTING, S.STOPPING),  # a start hook said no, or spawning gave up
    (S.ACTIVE, S.STOPPING),  # stop
    (S.STOPPING, S.STOPPED),  # every process gone
    (S.ACTIVE, S.STOPPED),  # respawn off and the last process exited
}
