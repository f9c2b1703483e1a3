"""Why a call to circusd got no reply: ZeroMQ's socket monitor, read when a call times out.

ZeroMQ hides connection trouble: a refused CURVE key, a wrong server key, a CURVE client
talking to a plain circusd (or the reverse) and an address where nothing listens all look like
a call that never gets its reply. :class:`ConnectionWatch` attaches a monitor to a client socket
and, when a call times out, turns the events seen so far into a message that names the cause:

======================================  ===================================================
monitor events                          message
======================================  ===================================================
``HANDSHAKE_FAILED_AUTH``               circusd refused this client's CURVE key
``HANDSHAKE_FAILED_NO_DETAIL`` (CURVE)  the CURVE server key is not circusd's, or circusd
                                        does not use CURVE (no attempt said PROTOCOL)
``HANDSHAKE_FAILED_PROTOCOL``           one side uses CURVE and the other does not
only ``CONNECT_RETRIED``/``CLOSED``     nothing answers at that address (unreachable)
``HANDSHAKE_SUCCEEDED``                 connected, but circusd did not answer in time
``DISCONNECTED`` after a handshake      unreachable: the connection was lost (gone
                                        silent and dropped by the heartbeats: a cut link,
                                        a host gone; or closed: circusd stopped)
``CONNECT_RETRIED`` on an ipc address   circusd is not running there: its socket file is
whose socket file refuses connects      left (a circusd killed with SIGKILL leaves it)
======================================  ===================================================

A handshake that fails ends a call at once with its message, instead of after the whole
timeout: circusd's verdict on a key does not change while the call waits. libzmq (4.3.5) sends
``HANDSHAKE_FAILED_AUTH`` (a refused key) and ``HANDSHAKE_FAILED_PROTOCOL`` (CURVE on one side
only) within milliseconds of the connection and does not retry: these end the call at once.
``HANDSHAKE_FAILED_NO_DETAIL`` is the peer closing the connection during the handshake (EPIPE):
what a wrong server key gets at every attempt (ZeroMQ retries every 100 ms), but also, at the
first attempt, a plain client of a CURVE circusd that wrote before it read circusd's error (the
next attempt says ``PROTOCOL``): it ends the call of a CURVE client once every attempt has
failed so for :data:`HANDSHAKE_GRACE`, a later ``AUTH``/``PROTOCOL`` taking its place
meanwhile. For a plain client it is something that accepts connections and closes them (an ssh
tunnel whose remote connect fails: "open failed: connect failed"), which ends the call as
refused connects do (after ``refused_grace``). A refused connect between them (a circusd that
stopped) makes the refused connects the story instead. A call that starts after a failed
handshake ends at once too (libzmq takes no message after a refusal).

Connects that are refused (``CONNECT_RETRIED`` with no connection up: ECONNREFUSED, no route)
for :data:`REFUSED_GRACE` end a call too (ZeroMQ retries them silently every 100 ms).
:meth:`ConnectionWatch.hopeless` says so for both (a blocking client checks it after each
monitor event), and ``on_refused`` is called for a client that waits on an event loop. The
grace lets a circusd being restarted bind its endpoint; a client created with
``refused_grace=None`` waits its whole timeout for refused connects instead (a failed handshake
still ends the call). A grace can also run out with no event to tell it: a connection dropped
by the heartbeats (a cut link, a host gone) gives ``DISCONNECTED`` and one ``CONNECT_RETRIED``,
then nothing while the next connect waits for an answer that does not come. So the clients look
again when a grace ends (:meth:`ConnectionWatch.next_verdict`): such a call ends half a second
after the drop, as "became unreachable", instead of at its timeout.

:func:`heartbeat` turns on ZMTP heartbeats on a client socket. circusd's ZeroMQ I/O thread
answers them even while a long command runs, so a connection that stays silent for half the
call timeout (at least 2 s) is dead (a cut link, a host that vanished), not busy: ZeroMQ drops
it, the watch sees ``DISCONNECTED``, and the call ends as "became unreachable" (half a second
later, when no new connection is made: see the grace below) instead of looking like a circusd
that is slow to answer.

libzmq writes a monitor's events into an inproc pair from the context's I/O thread, and that
write *blocks the I/O thread* once the pair is full (about 2000 events unread, with ZeroMQ's
default high-water marks) or once the reader is closed. A monitor left unread (a client idle
while its circusd is away makes two events per reconnection attempt, one every 100 ms) thus
froze every socket of its context: other clients of the process never connected (their calls
said "nothing answers there" with a circusd listening) and neither did this one when circusd
came back. Hence:

- the reader takes any number of events (its receive high-water mark is 0, no limit: the pair
  is never full) and is closed only after the monitor stops;
- the monitor is attached from the connection to the end of the first call, then while calls
  are under way, and read as its events come (the blocking client in its reply's poller, the
  asyncio client with ``loop.add_reader``);
- a client keeps it attached between calls that follow each other within :data:`IDLE_DETACH`
  (attaching and detaching cost ~70 µs of CPU per call, about half of a ZeroMQ round trip)
  and detaches it, reading what came, once it has been idle that long: a blocking client by
  the deadline thread (:mod:`circus.wire.deadlines`; also a client made and not called), so
  that an idle client holds at most that many seconds of events; an asyncio client by a timer
  of its own loop, which also reads the events as they come meanwhile (no other thread
  touches the loop's objects, nor the socket the loop polls). A loop closed with the monitor
  attached (a client called from ``asyncio.run`` and not stopped) reads nothing any more: the
  deadline thread, which looks at such a client once it has been idle, detaches it then. (A
  loop only stopped, to be run again, reads and detaches when it runs again.)

Between calls the story is kept; a reconnection attempt seen by the next call says the
connection it had is gone.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import zmq

from circus.wire import deadlines

if TYPE_CHECKING:  # an asyncio client gives its loop; the blocking one imports no asyncio
    import asyncio

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
#: Seconds a client's monitor stays attached after its last call: calls closer than this share
#: one monitor; a client idle for longer has it detached (by the deadline thread, or the timer
#: of an asyncio client's loop).
IDLE_DETACH = 1.0
#: The first frame of a monitor message: the event (16 bits), its value (32 bits), no padding.
MONITOR_HEADER = struct.Struct("=Hi")
#: A connection silent for this share of the call timeout is dropped (ZMTP heartbeats).
HEARTBEAT_SHARE = 0.5
#: Never less: a circusd on a machine so loaded that its ZeroMQ thread is not scheduled for a
#: second must not lose a live connection (and the reply in flight on it) to the heartbeats.
MIN_SILENCE_MS = 2000
#: Connects refused for this long (seconds) end a call: a circusd being restarted binds its
#: endpoint well within it, and ZeroMQ retries every 100 ms, so a few refusals are seen.
REFUSED_GRACE = 0.5
#: Handshakes closed by the peer without a reason (NO_DETAIL) for this long (seconds) end a call:
#: a few attempts, so that the reason of a mismatch (PROTOCOL) is seen if there is one.
HANDSHAKE_GRACE = 0.5
#: The handshake failures that are circusd's verdict (libzmq does not retry after them).
FINAL_FAILURES = (zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)


def heartbeat(socket: zmq.Socket[Any], timeout: float) -> None:
    """Ping the peer of ``socket`` and drop the connection once it has been silent for
    ``timeout * HEARTBEAT_SHARE`` seconds, at least 2 s. libzmq pings after that interval
    without traffic out and drops the connection when the ping gets no answer in time, so the
    drop comes up to interval + silence after the last traffic: pings at a quarter of the
    silence (at the 2 s floor, a call's request to a cut link sees the drop after 2.5 s, not 3)."""
    silence_ms = max(MIN_SILENCE_MS, int(min(timeout * HEARTBEAT_SHARE, 3600) * 1000))
    socket.setsockopt(zmq.HEARTBEAT_IVL, silence_ms // 4)
    socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, silence_ms)


class ConnectionWatch:
    """The connection story of one client socket, for the message of a timed-out call.

    Created before the socket connects; a client calls :meth:`begin` and :meth:`end` around
    each call, reads :attr:`reader` with its poller (or passes its asyncio loop to
    :meth:`begin`) and calls :meth:`drain` when it is readable."""

    def __init__(
        self,
        socket: zmq.Socket[Any],
        endpoint: str,
        curve: bool,
        address: str | None = None,
        refused_grace: float | None = REFUSED_GRACE,
    ) -> None:
        self.endpoint = endpoint  # as the user named it (for messages)
        self.address = address or endpoint  # what the socket connects to
        self.curve = curve
        self.refused_grace = refused_grace  # None: refused connects do not end a call
        #: when connects began to be refused (monotonic), None while connected or untried
        self.refused_since: float | None = None
        #: called (if set) when :meth:`hopeless` turns true while events are read
        self.on_refused: Callable[[], None] | None = None
        self._telling = False  # on_refused is running (it reads the monitor again)
        self.connected = False  # a handshake succeeded and no disconnection since
        self.reached = False  # a TCP/ipc connection was made at least once
        self.failure: str | None = None  # the last handshake failure, explained
        self.failure_final = False  # ... and it is circusd's verdict (AUTH, PROTOCOL)
        #: when handshakes began to fail (monotonic), None after one succeeded
        self.failing_since: float | None = None
        self._attempt_connected = False  # the current connect attempt got a connection
        self.lost = False  # a working connection went away and none replaced it yet
        self._socket = socket
        #: the monitor's events, while attached (a blocking socket, also for an asyncio client)
        self.reader: zmq.Socket[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # reads the monitor as events come
        #: the loop's timer that looks again when a grace ends (:meth:`next_verdict`)
        self._look_again: asyncio.TimerHandle | None = None
        #: the loop's timer that detaches the monitor once the client is idle
        self._idle_timer: asyncio.TimerHandle | None = None
        self._calls = 0
        self._closed = False
        #: begin/end and the deadline thread's detach (the socket is used by one at a time)
        self._lock = threading.Lock()
        self._last_end = 0.0  # time.monotonic() when the last call ended
        self._detach_pending = False  # the deadline thread will look at this watch
        self._attach()  # the first connection's story is the first call's
        self._detach_when_idle()  # a client made and not called at once holds no monitor

    def begin(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """A call starts: monitor the socket until the client has been idle for
        :data:`IDLE_DETACH` seconds. An asyncio client gives its ``loop``, which then reads
        the events as they come."""
        with self._lock:
            self._calls += 1
            if self._closed:
                return
            if loop is not None and self._loop is not loop and self._loop is not None:
                self._leave_loop()  # another loop now (the last one was closed, or stopped)
            if self.reader is None:
                self._attach()
            if loop is None:
                return
            if self._loop is None and self.reader is not None:
                loop.add_reader(self.reader.FD, self.drain)
                self._loop = loop
                self.drain()  # ZeroMQ's descriptor signals changes: read what came before
            self._look_again_later()  # a grace that ran out while idle: look again now

    def end(self) -> None:
        """A call ended (replied, timed out or failed). Once the client has been idle for
        :data:`IDLE_DETACH` seconds after the last one under way, its monitor is detached: by
        the loop of an asyncio client, by the deadline thread for a blocking one."""
        with self._lock:
            self._calls = max(0, self._calls - 1)
            if self._calls or self.reader is None:
                return
            loop = self._loop
            if loop is None:
                self._detach_when_idle()
                return
            self._last_end = time.monotonic()
            if self._idle_timer is None:
                self._idle_timer = loop.call_later(IDLE_DETACH, self._idle_on_loop)
                self._detach_when_idle()  # the deadline thread too, in case the loop closes

    def _idle_on_loop(self) -> None:
        """(The loop's timer.) Detach the monitor of a client idle for :data:`IDLE_DETACH`
        seconds; else look again when it will have been."""
        with self._lock:
            self._idle_timer = None
            loop = self._loop
            if self._calls or self.reader is None or loop is None:
                return  # a call under way sets the timer again when it ends
            wait = self._last_end + IDLE_DETACH - time.monotonic()
            if wait > 0:  # calls came meanwhile
                self._idle_timer = loop.call_later(wait, self._idle_on_loop)
                return
            self._detach()

    def _detach_when_idle(self) -> None:
        self._last_end = time.monotonic()
        if not self._detach_pending:
            self._detach_pending = True
            deadlines.call_at(self, self._last_end + IDLE_DETACH)

    def at_deadline(self) -> float | None:
        """From the deadline thread: detach the monitor of a blocking client idle for
        :data:`IDLE_DETACH` seconds, or of an asyncio client whose loop is closed; else say
        when to look again."""
        with self._lock:
            if self._calls or self.reader is None:
                self._detach_pending = False  # a call under way schedules on its end
                return None
            due = self._last_end + IDLE_DETACH
            now = time.monotonic()
            if self._loop is not None and not self._loop.is_closed():
                # its loop reads the monitor and detaches it (only the loop touches what the
                # loop polls): look again later, in case the loop is closed before it does
                return max(due, now) + IDLE_DETACH
            if now < due:  # calls came meanwhile
                return due
            self._detach_pending = False
            self._telling = True  # no on_refused from this thread: an asyncio client's futures
            try:  # are its loop's (one may be waiting for this lock to begin a call)
                self._detach()
            finally:
                self._telling = False
            return None

    def refused(self) -> bool:
        """Connects have been refused for the grace, and nothing listens at an ipc address
        (a full backlog is a busy circusd, not an absent one): the call can end now."""
        since = self.refused_since
        if self.refused_grace is None or since is None or self.connected:
            return False
        if time.monotonic() - since < self.refused_grace:
            return False
        return not self.address.startswith("ipc://") or self._ipc_refuses()

    def handshake_failed(self) -> bool:
        """The last handshake failed (a refused key, CURVE on one side only) and none succeeded
        since: waiting longer cannot help. Connections closed during the handshake (NO_DETAIL)
        count once every attempt has been closed so for :data:`HANDSHAKE_GRACE` (a CURVE
        client: a wrong server key), or for the refused grace (a plain client: something that
        accepts and closes, such as an ssh tunnel whose remote connect fails; ``None`` waits)."""
        if self.failure is None or self.connected:
            return False
        if self.failure_final:
            return True
        grace = self._handshake_grace()
        since = self.failing_since
        return grace is not None and since is not None and time.monotonic() - since >= grace

    def _handshake_grace(self) -> float | None:
        """How long closed handshakes (NO_DETAIL) may go on before they end a call: a CURVE
        client's is :data:`HANDSHAKE_GRACE`, a plain client's the refused grace (None: never)."""
        return HANDSHAKE_GRACE if self.curve else self.refused_grace

    def hopeless(self) -> bool:
        """The call can end now: its handshake failed, or connects were refused
        (:meth:`refused`)."""
        return self.handshake_failed() or self.refused()

    def next_verdict(self) -> float | None:
        """Seconds until :meth:`hopeless` may turn true with no further event (a grace that is
        running: connects refused, handshakes failing), None if none is. The client looks again
        then: after a connection dropped by the heartbeats, no event may come (see above)."""
        now = time.monotonic()
        due: list[float] = []
        if self.refused_grace is not None and self.refused_since is not None:
            due.append(self.refused_since + self.refused_grace)
        if self.failing_since is not None and not self.failure_final:
            grace = self._handshake_grace()
            if grace is not None:
                due.append(self.failing_since + grace)
        future = [when - now for when in due if when > now]
        return min(future) if future and not self.connected else None

    def handshake_already_failed(self) -> bool:
        """At the start of a call: a handshake failed before and none succeeded since, after
        reading the events waiting (costs nothing when no handshake failed). The call can end
        at once: after a refused key libzmq takes no message on the socket."""
        if self.failure is None:
            return False
        self.drain()
        return self.handshake_failed()

    def explain(self) -> str:
        """The message for a call that got no reply in time."""
        self.drain()
        if self.failure is not None and not self.connected:
            return self.failure
        if self.connected:
            return f"{TIMED_OUT} (connected to {self.endpoint}, but circusd did not answer)"
        if self.refused_since is not None and self._ipc_refuses():
            return (
                f"circusd is not running at {self.endpoint}: nothing listens on its socket file "
                "(connection refused; a circusd that ended without removing it, e.g. killed "
                "with SIGKILL, left it)"
            )
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
        with self._lock:
            self._closed = True
            self._detach()

    def drain(self) -> None:
        """Apply every event waiting in the monitor (never blocks)."""
        applied = False
        while self.reader is not None:
            try:
                frames = self.reader.recv_multipart(zmq.NOBLOCK)
            except (zmq.Again, zmq.ZMQError):
                break
            event = parse_event(frames)
            if event is None:
                continue
            self._apply(*event)
            applied = True
            self._tell_if_hopeless()
        if applied:
            self._look_again_later()

    def _tell_if_hopeless(self) -> None:
        if self.on_refused is not None and self._calls and not self._telling and self.hopeless():
            self._telling = True
            try:
                self.on_refused()
            finally:
                self._telling = False

    def _look_again_later(self) -> None:
        """(A client on an event loop.) Look again when a running grace ends: no event may
        come to tell it (:meth:`next_verdict`)."""
        if self._loop is None or self.on_refused is None or not self._calls:
            return  # (idle: the next call's begin looks)
        if self._look_again is not None:
            self._look_again.cancel()
            self._look_again = None
        due = self.next_verdict()
        if due is not None:
            self._look_again = self._loop.call_later(due, self._looking_again)

    def _looking_again(self) -> None:
        self._look_again = None
        if self._loop is not None and self.reader is not None and self._calls:
            self.drain()
            self._tell_if_hopeless()
            self._look_again_later()

    def _attach(self) -> None:
        # a fresh address each time: the pair of the previous monitor may not be gone yet
        address = f"inproc://circus-watch-{os.urandom(16).hex()}"
        self._socket.monitor(address, EVENTS)
        reader: zmq.Socket[Any] = zmq.Socket(self._socket.context, zmq.PAIR)
        reader.linger = 0
        reader.rcvhwm = 0  # no limit: libzmq's I/O thread never waits for room (see above)
        reader.connect(address)
        self.reader = reader
        # a watch (a client) dropped without close() stops its monitor before its reader and
        # socket go (garbage collection closes them in any order): see the module docstring
        self._release = weakref.finalize(self, _stop_monitor, self._socket, reader)
        self._release.atexit = False

    def _leave_loop(self) -> None:
        """The loop no longer reads the monitor (from the loop's thread, or once it is
        closed: then its timers and reader are gone with it)."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        for timer in (self._look_again, self._idle_timer):
            if timer is not None and not loop.is_closed():
                timer.cancel()
        self._look_again = self._idle_timer = None
        if self.reader is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError, ValueError, OSError):
                loop.remove_reader(self.reader.FD)

    def _detach(self) -> None:
        reader = self.reader
        if reader is None:
            return
        self._leave_loop()
        self.drain()  # first: a full pair blocks libzmq, which would not let go of the monitor
        with contextlib.suppress(zmq.ZMQError):
            self._socket.disable_monitor()
        self.drain()  # what came meanwhile
        self.reader = None
        self._release()

    def _apply(self, event: int, value: int) -> None:
        if event == zmq.EVENT_CONNECTED:
            self.reached = self._attempt_connected = True
            self.refused_since = None
        elif event == zmq.EVENT_CONNECT_RETRIED:  # not connected now (seen after an idle time)
            if not self._attempt_connected and not self.failure_final:
                # a refused connect: the handshakes closed before (a circusd that stopped) are
                # not the story any more, the refused connects are
                self.failure = self.failing_since = None
            self._attempt_connected = False
            self.lost = self.lost or self.connected
            self.connected = False
            if self.refused_since is None:
                self.refused_since = time.monotonic()
        elif event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self.reached = self.connected = True
            self.refused_since = None
            self.failure = None
            self.failure_final = False
            self.failing_since = None
            self.lost = False
        elif event == zmq.EVENT_DISCONNECTED:
            self.lost = self.lost or self.connected
            self.connected = False
        elif event in FINAL_FAILURES or event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            self._failed(event, value)

    def _failed(self, event: int, value: int) -> None:
        """A handshake failed: note why, and since when handshakes fail."""
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        final = event in FINAL_FAILURES
        if self.failure_final and not final and self.failure is not None:
            return  # a reason (AUTH, PROTOCOL) says more than a connection closed (NO_DETAIL)
        self.failure_final = final
        if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
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
                # what a wrong server key gets at every attempt, and a CURVE client of a plain
                # circusd too when no attempt got as far as PROTOCOL (seen on a loaded machine)
                f"the CURVE handshake with {self.endpoint} failed: --curve-server-key is not "
                "the public key of the circusd there, or circusd there does not use CURVE"
                if self.curve
                # a plain client of a circusd that requires CURVE gets it too when no attempt
                # got as far as PROTOCOL (seen on a loaded machine)
                else f"the handshake with {self.endpoint} failed: the other end closed the "
                "connection (is it a circusd endpoint? a circusd that requires CURVE does so "
                "too: give --curve-secret-key and --curve-server-key)"
            )

    def _ipc_refuses(self) -> bool:
        """One plain connect to the ipc address is refused (or finds no file): nothing
        listens there."""
        if not self.address.startswith("ipc://"):
            return False
        import socket

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.setblocking(False)
            try:
                probe.connect(self.address[len("ipc://") :])
            except (ConnectionRefusedError, FileNotFoundError):
                return True
            except OSError:  # EAGAIN: a full backlog, someone listens; EACCES: said elsewhere
                return False
        return False


def parse_event(frames: list[bytes]) -> tuple[int, int] | None:
    """``(event, value)`` of a monitor message, None if it is not one. (pyzmq's
    ``zmq.utils.monitor`` does the same, but imports ``zmq.asyncio`` and with it asyncio: ~18 ms
    of CPU at every start of circusctl, which uses no asyncio.)"""
    if len(frames) != 2 or len(frames[0]) != MONITOR_HEADER.size:
        return None
    event, value = MONITOR_HEADER.unpack(frames[0])
    return event, value


def _stop_monitor(socket: zmq.Socket[Any], reader: zmq.Socket[Any]) -> None:
    """Stop monitoring ``socket``, then close the monitor's ``reader`` (in this order: libzmq
    blocks its I/O thread on an event for a reader that is gone)."""
    with contextlib.suppress(zmq.ZMQError):
        socket.disable_monitor()
    reader.close(linger=0)
