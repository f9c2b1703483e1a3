"""Several circusds at once: :class:`Fleet`, :func:`fan_out` (see :mod:`circus.client`).

One :class:`~circus.client.aio.AsyncCircusClient` per :class:`Host`; imported on the first use
of one of its names through :mod:`circus.client` (fleet mode only: it needs asyncio).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import zmq.asyncio

from circus.client import DEFAULT_TIMEOUT, MIN_SSH_TIMEOUT, make_message
from circus.client.aio import AsyncCircusClient
from circus.errors import CallError, ConfigError
from circus.wire.ssh import SshTunnel

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
