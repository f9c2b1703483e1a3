"""Clients of circusd's control channel, usable as libraries.

``CircusClient`` is blocking; ``AsyncCircusClient`` runs on asyncio (``zmq.asyncio``). Both use a
DEALER socket with a random identity, send ``{"id", "command", "properties"}`` and return the
reply whose ``id`` matches (stray replies of earlier timed-out calls are discarded). A call that
gets no reply within ``timeout`` seconds raises ``CallError`` saying why when ZeroMQ's socket
monitor knows (:mod:`circus.wire.diagnose`: a refused CURVE key, a wrong server key, CURVE on one
side only, nothing listening, a connection lost and not made again: heartbeats drop a connection
that stays silent for half the timeout, 2 s at least), else ``"Timed out. (connected to ...,
but circusd did not answer)"``. Connects that are refused (a circusd killed and its ipc socket file
left, a tcp port nobody listens on) end a call after half a second instead (``refused_grace``:
time for a circusd being restarted to bind; ``None`` waits the whole timeout), saying that circusd
is not running there. Error replies are returned, not raised: check ``reply["status"]``.

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

import asyncio
import json
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import zmq
import zmq.asyncio

from circus.control.defaults import default_endpoint
from circus.errors import CallError, ConfigError
from circus.wire import boundedjson, security, ssh
from circus.wire.diagnose import REFUSED_GRACE, ConnectionWatch, heartbeat
from circus.wire.discovery import Announcement, discover, discover_sync  # noqa: F401
from circus.wire.ssh import SshTunnel, TunnelUser

DEFAULT_TIMEOUT = 5.0  # seconds, as the original
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
    call_id = uuid.uuid4().hex
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
    import os

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
    import os

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
        self.identity = uuid.uuid4().hex.encode("ascii")
        self.ssh_server = ssh_server
        # through ssh: ZeroMQ connects to the tunnel's local socket (raises TunnelError); the
        # endpoint is as the ssh host sees it (by default, circusd's default there)
        self.endpoint, address, self.tunnel = ssh.through(
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
        """The reply to ``call_id``; the socket monitor is read meanwhile (unread, it would
        stall ZeroMQ: see :mod:`circus.wire.diagnose`)."""
        poller = zmq.Poller()
        poller.register(self.socket, zmq.POLLIN)
        monitor = self.watch.reader
        if monitor is not None:
            poller.register(monitor, zmq.POLLIN)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CallError(self._explain())
            ready = dict(poller.poll(max(1, int(remaining * 1000))))
            if monitor is not None and monitor in ready:
                self.watch.drain()
                if self.watch.refused():  # nothing listens there: no need to wait any longer
                    raise CallError(self._explain())
            if self.socket not in ready:
                continue
            reply = _decode_reply(self.socket.recv())
            if reply is not None and reply.get("id") == call_id:
                return reply

    def _send(self, data: bytes, deadline: float) -> None:
        self.socket.sndtimeo = max(1, int((deadline - time.monotonic()) * 1000))
        try:
            self.socket.send(data)
        except zmq.Again:
            raise CallError(self._explain()) from None
        except zmq.ZMQError as exc:
            raise CallError(str(exc)) from None

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


class AsyncCircusClient(_ClientBase):
    """asyncio client; several calls may be in flight at once on one client."""

    def __init__(
        self,
        context: zmq.asyncio.Context | None = None,
        endpoint: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        ssh_server: str | None = None,
        ssh_keyfile: str | None = None,
        *,
        curve_secret_key: str | None = None,
        curve_server_key: str | None = None,
        refused_grace: float | None = REFUSED_GRACE,
    ):
        self.context = context or zmq.asyncio.Context.instance()
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
        self._pending: dict[object, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task | None = None
        self.watch.on_refused = self._refused

    def _refused(self) -> None:
        """Nothing listens at the endpoint: the calls waiting end now (see ``refused_grace``)."""
        waiting = [future for future in self._pending.values() if not future.done()]
        if waiting:
            error = CallError(self._explain())
            for future in waiting:
                if not future.done():
                    future.set_exception(error)

    async def call(self, cmd: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send a message and return the matching reply."""
        call_id, data = _encode_call(cmd)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending[call_id] = future
        self.watch.begin(loop)
        try:
            self._check_endpoint()
            self._ensure_reader()
            # asyncio.timeout, not wait_for: in Python 3.11, wait_for cancelled as the reply
            # comes returns the reply and drops the cancellation (the caller goes on)
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                return await self._exchange(self.socket.send(data), future)
        except TimeoutError:
            raise CallError(self._explain()) from None
        except zmq.ZMQError as exc:
            raise CallError(str(exc)) from None
        finally:
            self._pending.pop(call_id, None)
            self.watch.end()

    @staticmethod
    async def _exchange(
        send: Awaitable[object], reply: asyncio.Future[dict[str, Any]]
    ) -> dict[str, Any]:
        """The send, then the reply, both under the call's timeout: a socket whose connection
        was refused (its CURVE key) takes no message, and its send would wait for ever."""
        await send
        return await reply

    async def send_message(self, command: str, **props: Any) -> dict[str, Any]:
        return await self.call(make_message(command, **props))

    async def cast(self, command: str, **props: Any) -> None:
        _, data = _encode_call(cast_message(command, **props))
        self.watch.begin(asyncio.get_running_loop())
        try:
            self._check_endpoint()
            async with asyncio.timeout(self.timeout):
                await self.socket.send(data)
        except TimeoutError:
            raise CallError(self._explain()) from None
        finally:
            self.watch.end()

    def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_replies())

    async def _read_replies(self) -> None:
        while self._pending:
            data = await self.socket.recv()
            reply = _decode_reply(data)
            if reply is None:
                continue
            future = self._pending.get(reply.get("id"))
            if future is not None and not future.done():
                future.set_result(reply)

    def stop(self) -> None:
        """Close the socket; calls still waiting for a reply fail now (CallError)."""
        if self._reader is not None:
            self._reader.cancel()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CallError("the client was closed before circusd replied"))
        self.watch.close()
        self.socket.close(linger=0)
        self._release_tunnel()

    close = stop

    async def __aenter__(self) -> AsyncCircusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()


# --- several circusds at once --------------------------------------------------------------------

#: Extra seconds a fleet call waits beyond ``timeout`` before giving up on a host whose client
#: did not time out by itself (its own deadline covers the reply, not a blocked send).
FLEET_TIMEOUT_MARGIN = 1.0


@dataclass(frozen=True)
class Host:
    """One circusd of a fleet: a display name, its control endpoint and its CURVE files."""

    name: str
    endpoint: str
    curve_secret_key: str | None = None  # this client's certificate (with the secret key)
    curve_server_key: str | None = None  # circusd's public certificate
    ssh_server: str | None = None  # through an ssh tunnel to user@host[:port]
    ssh_keyfile: str | None = None  # the ssh key to log in with (default: ssh's own)

    @classmethod
    def of(cls, host: Host | str) -> Host:
        """A :class:`Host` as is; an endpoint string as a host named after it."""
        return host if isinstance(host, Host) else cls(name=host, endpoint=host)


@dataclass(frozen=True)
class HostResult:
    """What one host of a fleet call gave: its ``reply``, or ``error`` (why there is none)."""

    host: Host
    reply: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0  # how long this host took (reply or failure)

    @property
    def ok(self) -> bool:
        """The host answered and its reply is not an error reply."""
        return self.reply is not None and self.reply.get("status") != "error"


class Fleet:
    """Calls several circusds concurrently; one client per host, kept until :meth:`close`.

    Example::

        async with Fleet(["ipc:///run/a.sock", Host("b", "tcp://10.0.0.2:5555", sk, pk)]) as f:
            for result in await f.send_message("status"):
                print(result.host.name, result.reply or result.error)
    """

    def __init__(
        self,
        hosts: Iterable[Host | str],
        timeout: float = DEFAULT_TIMEOUT,
        context: zmq.asyncio.Context | None = None,
    ):
        self.hosts: list[Host] = [Host.of(host) for host in hosts]
        names = [host.name for host in self.hosts]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigError(f"host named more than once: {', '.join(duplicates)}")
        self.timeout = float(timeout)
        self.context = context
        self._clients: dict[str, AsyncCircusClient] = {}
        #: the fleet's own hold on each ssh tunnel, and the logins that failed (by server, key)
        self._tunnels: dict[tuple[str, str | None], SshTunnel] = {}
        self._tunnel_errors: dict[tuple[str | None, str | None], str] = {}

    async def call(self, cmd: dict[str, Any]) -> list[HostResult]:
        """Send ``cmd`` to every host at once; one result per host, in the hosts' order."""
        await self._open_tunnels()
        return list(await asyncio.gather(*(self._call_one(host, cmd) for host in self.hosts)))

    async def _open_tunnels(self) -> None:
        """Log in to every ssh server of the fleet at once (a client would do it in turn,
        blocking the loop); a failed login is that server's hosts' error."""
        self._tunnel_errors.clear()
        wanted = {
            (h.ssh_server, h.ssh_keyfile)
            for h in self.hosts
            if h.ssh_server and h.name not in self._clients
        } - set(self._tunnels)

        async def login(key: tuple[str, str | None]) -> None:
            try:
                self._tunnels[key] = await SshTunnel.shared_async(
                    key[0], key[1], max(self.timeout, MIN_SSH_TIMEOUT)
                )
            except CallError as exc:
                self._tunnel_errors[key] = str(exc)

        await asyncio.gather(*(login(key) for key in wanted))

    async def send_message(self, command: str, **props: Any) -> list[HostResult]:
        return await self.call(make_message(command, **props))

    async def as_completed(self, cmd: dict[str, Any]) -> AsyncGenerator[HostResult, None]:
        """Send ``cmd`` to every host at once and yield the results as they come (fastest
        first). Leaving the loop early (use ``contextlib.aclosing``) cancels the calls left."""
        calls = [asyncio.ensure_future(self._call_one(host, cmd)) for host in self.hosts]
        try:
            for next_done in asyncio.as_completed(calls):
                yield await next_done
        finally:
            for call in calls:
                call.cancel()
            # let them end before the clients close: a call still waiting then would fail with
            # 'the client was closed', an exception nobody retrieves
            await asyncio.gather(*calls, return_exceptions=True)

    async def call_serial(
        self, cmd: dict[str, Any], on_result: Callable[[HostResult], object] | None = None
    ) -> list[HostResult]:
        """Send ``cmd`` to one host at a time, in the hosts' order, and stop after the first
        host that fails (no reply, or an error reply): a rolling change never touches the next
        host while one is not back. ``on_result`` sees each result as it comes. Returns the
        results of the hosts called (fewer than the hosts when it stopped)."""
        results: list[HostResult] = []
        self._tunnel_errors.clear()  # ssh logins happen host by host here
        for host in self.hosts:
            result = await self._call_one(host, cmd)
            results.append(result)
            if on_result is not None:
                on_result(result)
            if not result.ok:
                break
        return results

    async def _call_one(self, host: Host, cmd: dict[str, Any]) -> HostResult:
        started = time.monotonic()
        try:
            client = self._client(host)
            async with asyncio.timeout(self.timeout + FLEET_TIMEOUT_MARGIN):
                reply = await client.call(cmd)
        except (CallError, ConfigError) as exc:
            return HostResult(host, error=str(exc), seconds=time.monotonic() - started)
        except TimeoutError:
            error = f"Timed out. (no answer from {host.endpoint} in {self.timeout:g} s)"
            return HostResult(host, error=error, seconds=time.monotonic() - started)
        return HostResult(host, reply=reply, seconds=time.monotonic() - started)

    def _client(self, host: Host) -> AsyncCircusClient:
        client = self._clients.get(host.name)
        failed_login = self._tunnel_errors.get((host.ssh_server, host.ssh_keyfile))
        if client is None and failed_login:
            raise CallError(failed_login)
        if client is None:
            client = AsyncCircusClient(
                self.context,
                host.endpoint,
                self.timeout,
                host.ssh_server,
                host.ssh_keyfile,
                curve_secret_key=host.curve_secret_key,
                curve_server_key=host.curve_server_key,
            )
            self._clients[host.name] = client
        return client

    def close(self) -> None:
        for client in self._clients.values():
            client.stop()
        self._clients.clear()
        for tunnel in self._tunnels.values():
            tunnel.release()
        self._tunnels.clear()

    async def __aenter__(self) -> Fleet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


async def fan_out(
    hosts: Sequence[Host | str], cmd: dict[str, Any], timeout: float = DEFAULT_TIMEOUT
) -> list[HostResult]:
    """Send ``cmd`` (e.g. ``make_message("status")``) to every host concurrently; one
    :class:`HostResult` per host, in order. Never raises for a host's failure."""
    async with Fleet(hosts, timeout) as fleet:
        return await fleet.call(cmd)
