"""Why a call to circusd got no reply: ZeroMQ's socket monitor, read when a call times out.

ZeroMQ hides connection trouble: a refused CURVE key, a wrong server key, a CURVE client
talking to a plain circusd (or the reverse) and an address where nothing listens all look like
a call that never gets its reply. :class:`ConnectionWatch` attaches a monitor to a client socket
and, when a call times out, turns the events seen so far into a message that names the cause:

======================================  ===================================================
monitor events                          message
======================================  ===================================================
``HANDSHAKE_FAILED_AUTH``               circusd refused this client's CURVE key
``HANDSHAKE_FAILED_NO_DETAIL`` (CURVE)  the CURVE server key is not circusd's
``HANDSHAKE_FAILED_PROTOCOL``           one side uses CURVE and the other does not
only ``CONNECT_RETRIED``/``CLOSED``     nothing answers at that address (unreachable)
``HANDSHAKE_SUCCEEDED``                 connected, but circusd did not answer in time
``DISCONNECTED`` after a handshake      unreachable: the connection was lost (gone
                                        silent and dropped by the heartbeats: a cut link,
                                        a host gone; or closed: circusd stopped)
======================================  ===================================================

:func:`heartbeat` turns on ZMTP heartbeats on a client socket. circusd's ZeroMQ I/O thread
answers them even while a long command runs, so a connection that stays silent for half the
call timeout (at least 2 s) is dead (a cut link, a host that vanished), not busy: ZeroMQ drops
it, the watch sees ``DISCONNECTED``, and the call ends as "became unreachable" instead of
looking like a circusd that is slow to answer.
"""

from __future__ import annotations

import contextlib
from typing import Any

import zmq
from zmq.utils.monitor import parse_monitor_message

#: The events the watch asks for (the others say nothing about why a call failed).
EVENTS = (
    zmq.EVENT_CONNECTED
    | zmq.EVENT_CONNECT_RETRIED
    | zmq.EVENT_CLOSED
    | zmq.EVENT_DISCONNECTED
    | zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
TIMED_OUT = "Timed out."
#: A connection silent for this share of the call timeout is dropped (ZMTP heartbeats).
HEARTBEAT_SHARE = 0.5
#: Never less: a circusd on a machine so loaded that its ZeroMQ thread is not scheduled for a
#: second must not lose a live connection (and the reply in flight on it) to the heartbeats.
MIN_SILENCE_MS = 2000


def heartbeat(socket: zmq.Socket[Any], timeout: float) -> None:
    """Ping the peer of ``socket`` and drop the connection once it has been silent for
    ``timeout * HEARTBEAT_SHARE`` seconds, at least 2 s (pings at half that interval)."""
    silence_ms = max(MIN_SILENCE_MS, int(min(timeout * HEARTBEAT_SHARE, 3600) * 1000))
    socket.setsockopt(zmq.HEARTBEAT_IVL, silence_ms // 2)
    socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, silence_ms)


class ConnectionWatch:
    """The connection story of one client socket, for the message of a timed-out call."""

    def __init__(self, socket: zmq.Socket[Any], endpoint: str, curve: bool) -> None:
        self.endpoint = endpoint
        self.curve = curve
        self.connected = False  # a handshake succeeded and no disconnection since
        self.reached = False  # a TCP/ipc connection was made at least once
        self.failure: str | None = None  # the last handshake failure, explained
        self.lost = False  # a working connection went away and none replaced it yet
        monitor = socket.get_monitor_socket(EVENTS)
        # an asyncio client's monitor is an asyncio socket: read it through a blocking shadow
        self._monitor = monitor
        self._reader: zmq.Socket[Any] = (
            monitor if type(monitor) is zmq.Socket else zmq.Socket.shadow(monitor.underlying)
        )
        self._socket = socket

    def explain(self) -> str:
        """The message for a call that got no reply in time."""
        self._drain()
        if self.failure is not None and not self.connected:
            return self.failure
        if self.connected:
            return f"{TIMED_OUT} (connected to {self.endpoint}, but circusd did not answer)"
        if self.lost:
            return (
                f"circusd at {self.endpoint} became unreachable: the connection was lost and "
                "not made again (is the network or the host down, or did circusd stop?)"
            )
        if not self.reached:
            return (
                f"cannot reach circusd at {self.endpoint}: nothing answers there (connection "
                "refused or no route; is circusd running with this endpoint?)"
            )
        return f"{TIMED_OUT} ({self.endpoint} accepted the connection but never completed it)"

    def close(self) -> None:
        """Stop monitoring (before the client socket closes)."""
        with contextlib.suppress(zmq.ZMQError):
            self._socket.disable_monitor()
        self._monitor.close(linger=0)

    def _drain(self) -> None:
        while True:
            try:
                frames = self._reader.recv_multipart(zmq.NOBLOCK)
            except (zmq.Again, zmq.ZMQError):
                return
            try:
                event = parse_monitor_message(frames)
            except (ValueError, IndexError):
                continue
            self._apply(int(event["event"]), int(event["value"]))

    def _apply(self, event: int, value: int) -> None:
        if event == zmq.EVENT_CONNECTED:
            self.reached = True
        elif event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self.reached = self.connected = True
            self.failure = None
            self.lost = False
        elif event == zmq.EVENT_DISCONNECTED:
            self.lost = self.lost or self.connected
            self.connected = False
        elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            self.failure = (
                f"circusd at {self.endpoint} refused this client's CURVE key (status {value}): "
                "its public key is not among circusd's curve_public_keys"
            )
        elif event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
            self.failure = (
                f"circusd at {self.endpoint} does not use CURVE: drop --curve-secret-key and "
                "--curve-server-key"
                if self.curve
                else f"circusd at {self.endpoint} requires CURVE: give --curve-secret-key "
                "(this client's certificate) and --curve-server-key (circusd's public key)"
            )
        elif event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            self.failure = (
                f"the CURVE handshake with {self.endpoint} failed: --curve-server-key is not "
                "the public key of the circusd there"
                if self.curve
                else f"the handshake with {self.endpoint} failed (is it a circusd endpoint?)"
            )
