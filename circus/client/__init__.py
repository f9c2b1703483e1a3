"""Clients of circusd's control channel, usable as libraries.

``CircusClient`` is blocking; ``AsyncCircusClient`` runs on asyncio (``zmq.asyncio``). Both use a
DEALER socket with a random identity, send ``{"id", "command", "properties"}`` and return the
reply whose ``id`` matches (stray replies of earlier timed-out calls are discarded). A call that
gets no reply within ``timeout`` seconds raises ``CallError`` saying why when ZeroMQ's socket
monitor knows (:mod:`circus.wire.diagnose`: nothing listening, a connection lost and not made
again: heartbeats drop a connection that stays silent for half the timeout, 2 s at least), else
``"Timed out. (connected to ..., but circusd did not answer)"``. A handshake that fails (a
refused CURVE key, CURVE on one side only; a wrong server key after half a second) ends the call
at once, with its reason, instead of after the timeout, and so does each later call of that
client. Connects that are refused (a circusd killed and its ipc socket file left, a tcp port
nobody listens on) end a call after half a second instead (``refused_grace``: time for a circusd
being restarted to bind; ``None`` waits the whole timeout), saying that circusd is not running
there. Error replies are returned, not raised: check ``reply["status"]``.

:class:`Fleet` and :func:`fan_out` send one message to several circusds at once (one
``AsyncCircusClient`` per :class:`Host`) and return one :class:`HostResult` per host, in the
order given: a reply, or the error that prevented one. An unreachable host costs at most the
timeout and never delays the others' replies. :meth:`Fleet.call_serial` calls one host at a
time instead and stops at the first failure (a rolling restart).

:func:`discover` (async) and :func:`discover_sync` find circusds by multicast discovery (the
original's datagrams, :mod:`circus.wire.discovery`) and return an :class:`Announcement` per
circusd that answered: its endpoint, whether it is CURVE-protected, who answered.

Example::

    from circus.client import CircusClient
    with CircusClient() as client:            # default endpoint: ipc://<runtime dir>/circus.sock
        print(client.send_message("status"))  # {"status": "ok", "statuses": {...}, ...}
"""

from __future__ import annotations

import importlib
import json
import math
import os
import time
from typing import TYPE_CHECKING, Any

import zmq

from circus.control.defaults import DEFAULT_TIMEOUT, default_endpoint
from circus.errors import CallError
from circus.wire import boundedjson, security
from circus.wire.diagnose import REFUSED_GRACE, ConnectionWatch, heartbeat
from circus.wire.tunnel import TunnelUser, through

if TYPE_CHECKING:
    from circus.client.aio import AsyncCircusClient
    from circus.client.fleet import FLEET_TIMEOUT_MARGIN, Fleet, Host, HostResult, fan_out
    from circus.wire.discovery import Announcement, discover, discover_sync
    from circus.wire.ssh import SshTunnel

__all__ = [
    "DEFAULT_TIMEOUT",
    "FLEET_TIMEOUT_MARGIN",
    "Announcement",
    "AsyncCircusClient",
    "CircusClient",
    "Fleet",
    "Host",
    "HostResult",
    "SshTunnel",
    "cast_message",
    "discover",
    "discover_sync",
    "fan_out",
    "make_json",
    "make_message",
]

#: The names of this module that live in a module of their own, imported on first use: they
#: need asyncio, which the blocking client (circusctl) does without (~18 ms of CPU per start).
_LAZY = {
    "AsyncCircusClient": "circus.client.aio",
    "FLEET_TIMEOUT_MARGIN": "circus.client.fleet",
    "Fleet": "circus.client.fleet",
    "Host": "circus.client.fleet",
    "HostResult": "circus.client.fleet",
    "fan_out": "circus.client.fleet",
    "Announcement": "circus.wire.discovery",
    "discover": "circus.wire.discovery",
    "discover_sync": "circus.wire.discovery",
    "SshTunnel": "circus.wire.ssh",
}


def __getattr__(name: str) -> Any:
    """``from circus.client import AsyncCircusClient`` (and the other names of :data:`_LAZY`)
    imports the module that holds it."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup does not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


#: The ssh login of a tunnel may take this long even when calls have a shorter timeout.
MIN_SSH_TIMEOUT = 5.0


def make_message(command: str, **props: Any) -> dict[str, Any]:
    """``{"command": command, "properties": props}``."""
    return {"command": command, "properties": props or {}}


def cast_message(command: str, **props: Any) -> dict[str, Any]:
    """A fire-and-forget message: circusd executes it and sends no reply."""
    return {"command": command, "msg_type": "cast", "properties": props or {}}


def make_json(command: str, **props: Any) -> str:
    return json.dumps(make_message(command, **props))


def _encode_call(cmd: dict[str, Any]) -> tuple[str, bytes]:
    if not isinstance(cmd, dict):
        raise CallError(f"call() takes a mapping, got {type(cmd).__name__}")
    call_id = os.urandom(16).hex()  # as uuid4().hex, without uuid (which imports platform)
    cmd = dict(cmd, id=call_id)
    try:
        return call_id, json.dumps(cmd).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise CallError(f"message cannot be sent as JSON: {exc}") from None


def _decode_reply(data: bytes) -> dict[str, Any] | None:
    try:
        reply = boundedjson.loads(data, boundedjson.MAX_REPLY_DEPTH)
    except ValueError:  # not JSON, or nested too deep: not a reply of circusd
        return None
    return reply if isinstance(reply, dict) else None


def _check_ipc(endpoint: str) -> None:
    """ZeroMQ connects to a missing ipc socket, or to one this user may not open, silently and
    then times out; say it plainly."""
    if not endpoint.startswith("ipc://"):
        return
    path = endpoint[len("ipc://") :]
    try:
        os.stat(path)
    except PermissionError:  # a directory on the way that this user may not enter
        raise CallError(_permission_denied(endpoint, path, "its directory")) from None
    except OSError:
        raise CallError(f"circusd is not running at {endpoint} (no socket file {path})") from None
    if not os.access(path, os.W_OK):  # connect() needs write permission on the socket file
        raise CallError(_permission_denied(endpoint, path, "the socket file")) from None


def _permission_denied(endpoint: str, path: str, what: str) -> str:
    return (
        f"cannot reach circusd at {endpoint}: permission denied ({what} is not open to uid "
        f"{os.getuid()}): run this as the user that runs circusd, or let this user in with "
        f"[circus] endpoint_owner (docs/security.md)"
    )


class _ClientBase(TunnelUser):
    def _setup(
        self,
        context: zmq.Context,
        endpoint: str | None,
        timeout: float,
        curve_secret_key: str | None,
        curve_server_key: str | None,
        ssh_server: str | None = None,
        ssh_keyfile: str | None = None,
        refused_grace: float | None = REFUSED_GRACE,
    ) -> None:
        self.timeout = float(timeout)
        self.identity = os.urandom(16).hex().encode("ascii")
        self.ssh_server = ssh_server
        # through ssh: ZeroMQ connects to the tunnel's local socket (raises TunnelError); the
        # endpoint is as the ssh host sees it (by default, circusd's default there)
        self.endpoint, address, self.tunnel = through(
            endpoint, default_endpoint, ssh_server, ssh_keyfile, max(self.timeout, MIN_SSH_TIMEOUT)
        )
        where = f"{self.endpoint} (through ssh {ssh_server})" if ssh_server else self.endpoint
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.IDENTITY, self.identity)
        self.socket.linger = 0
        try:
            security.secure_client_socket(self.socket, curve_secret_key, curve_server_key)
            heartbeat(self.socket, self.timeout)  # a dead connection is dropped, and said so
            # says why a call timed out (refused key, wrong server key, nothing there...)
            watch = ConnectionWatch(
                self.socket,
                where,
                curve=bool(curve_secret_key or curve_server_key),
                address=address,
                refused_grace=refused_grace,
            )
            try:
                self.socket.connect(address)
            except BaseException:
                watch.close()
                raise
            self.watch = watch
        except zmq.ZMQError as exc:
            self.socket.close(linger=0)
            self._release_tunnel()
            hint = (
                "" if "://" in self.endpoint else " (an endpoint is ipc://PATH or tcp://HOST:PORT)"
            )
            raise CallError(f"cannot connect to {self.endpoint}: {exc}{hint}") from None
        except BaseException:
            self.socket.close(linger=0)
            self._release_tunnel()
            raise

    def _check_endpoint(self) -> None:
        if self.tunnel is None:  # through ssh, the socket file is on the ssh host
            _check_ipc(self.endpoint)
        if self.watch.handshake_already_failed():  # a refused key stays refused
            raise CallError(self._explain())

    def _explain(self) -> str:
        """Why the last call got no reply: the tunnel's story first (its end, nothing at the
        endpoint on the ssh host), else ZeroMQ's."""
        if self.tunnel is not None:
            why = self.tunnel.explain(self.endpoint)
            if why:
                return why
        return self.watch.explain()


class CircusClient(_ClientBase):
    """Blocking client (see the module docstring)."""

    def __init__(
        self,
        context: zmq.Context | None = None,
        endpoint: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        ssh_server: str | None = None,
        ssh_keyfile: str | None = None,
        *,
        curve_secret_key: str | None = None,
        curve_server_key: str | None = None,
        refused_grace: float | None = REFUSED_GRACE,
    ):
        self.context = context or zmq.Context.instance()
        self._setup(
            self.context,
            endpoint,
            timeout,
            curve_secret_key,
            curve_server_key,
            ssh_server,
            ssh_keyfile,
            refused_grace,
        )

    def call(self, cmd: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send a message and return the matching reply."""
        call_id, data = _encode_call(cmd)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self.watch.begin()
        try:
            self._check_endpoint()
            self._send(data, deadline)
            return self._wait(call_id, deadline)
        finally:
            self.watch.end()

    def _wait(self, call_id: str, deadline: float) -> dict[str, Any]:
        """The reply to ``call_id``."""
        while True:
            self._until_ready(zmq.POLLIN, deadline)
            reply = _decode_reply(self.socket.recv())
            if reply is not None and reply.get("id") == call_id:
                return reply

    def _send(self, data: bytes, deadline: float) -> None:
        try:
            try:  # the usual case, without setting the socket's send timeout (~10 µs)
                self.socket.send(data, zmq.NOBLOCK)
            except zmq.Again:  # not connected yet, or the queue is full: wait, up to the deadline
                self._send_when_writable(data, deadline)
        except zmq.ZMQError as exc:
            raise CallError(str(exc)) from None

    def _send_when_writable(self, data: bytes, deadline: float) -> None:
        """Send once ZeroMQ takes the message: a handshake refused before the call (libzmq
        then takes no message) ends it at once, not at the deadline."""
        while True:
            self._until_ready(zmq.POLLOUT, deadline)
            try:
                self.socket.send(data, zmq.NOBLOCK)
                return
            except zmq.Again:  # taken by another sender meanwhile: wait again
                continue

    def _until_ready(self, event: int, deadline: float) -> None:
        """Wait until the socket is ready for ``event`` (POLLIN, POLLOUT), reading the socket
        monitor meanwhile (unread, it would stall ZeroMQ: see :mod:`circus.wire.diagnose`);
        CallError at the deadline, or as soon as the watch finds the call hopeless (a failed
        handshake, or nothing listens there)."""
        poller = zmq.Poller()
        poller.register(self.socket, event)
        monitor = self.watch.reader
        if monitor is not None:
            poller.register(monitor, zmq.POLLIN)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CallError(self._explain())
            # a grace that ends with no event to tell it: look again then (next_verdict)
            due = self.watch.next_verdict() if monitor is not None else None
            wait = remaining if due is None else min(remaining, due)
            ready = dict(poller.poll(max(1, math.ceil(wait * 1000))))
            if monitor is not None and (monitor in ready or due is not None):
                if monitor in ready:
                    self.watch.drain()
                if self.watch.hopeless():
                    raise CallError(self._explain())
            if self.socket in ready:
                return

    def send_message(self, command: str, **props: Any) -> dict[str, Any]:
        return self.call(make_message(command, **props))

    def cast(self, command: str, **props: Any) -> None:
        """Send a command without waiting (circusd does not reply to casts)."""
        _, data = _encode_call(cast_message(command, **props))
        self.watch.begin()
        try:
            self._check_endpoint()
            self._send(data, time.monotonic() + self.timeout)
        finally:
            self.watch.end()

    def stop(self) -> None:
        self.watch.close()
        self.socket.close(linger=0)
        self._release_tunnel()

    close = stop

    def __enter__(self) -> CircusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
