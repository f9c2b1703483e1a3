"""circusctl's fleet mode: one command on several circusds at once, one block per host.

Several ``--endpoint``, or ``--hosts FILE`` (:mod:`circus.cli.hosts_file`), select it. The calls
run concurrently (:class:`circus.client.Fleet`), so the whole run takes about as long as the
slowest host, at most the timeout; an unreachable host is reported in its block.

Text output, in the order the hosts were given::

    == web1 (tcp://10.0.0.11:5555) ==
    <the command's usual output, or "error: <why>">

``--json``: one object keyed by host name, each value the host's reply, or
``{"status": "error", "reason": "<why>", "call_failed": true}`` when there is no reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from circus.cli.hosts_file import load_hosts
from circus.client import Fleet, Host, HostResult
from circus.control.commands import Command
from circus.errors import ConfigError


def fleet_hosts(
    endpoints: Sequence[str],
    hosts_file: str | None,
    curve_secret_key: str | None,
    curve_server_key: str | None,
) -> list[Host]:
    """The hosts of ``--hosts FILE`` then those of ``--endpoint`` (which use the ``--curve-*``
    options); raises ConfigError on a bad file or a host given twice."""
    hosts = load_hosts(hosts_file) if hosts_file else []
    hosts += [Host(e, e, curve_secret_key, curve_server_key) for e in endpoints]
    seen: set[str] = set()
    for host in hosts:
        if host.name in seen:
            raise ConfigError(f"host {host.name!r} given more than once")
        seen.add(host.name)
    return hosts


def call_fleet(hosts: Sequence[Host], message: dict[str, Any], timeout: float) -> list[HostResult]:
    """Send ``message`` to every host concurrently (blocking; runs its own event loop)."""

    async def fan_out() -> list[HostResult]:
        async with Fleet(hosts, timeout) as fleet:
            return await fleet.call(message)

    return asyncio.run(fan_out())


def header(host: Host) -> str:
    where = host.endpoint if host.name == host.endpoint else f"{host.name} ({host.endpoint})"
    return f"== {where} =="


def print_blocks(results: Sequence[HostResult], command: Command, out: TextIO) -> None:
    """One block per host: the header line, then the command's output or the error."""
    for index, result in enumerate(results):
        lines = [header(result.host)]
        if result.reply is None:
            lines.append(f"error: {result.error}")
        elif result.reply.get("status") == "error":
            lines.append(f"error: {command.console_msg(result.reply)}")
        else:
            lines.append(command.console_msg(result.reply))
        if index:
            lines.insert(0, "")
        print("\n".join(lines), file=out, flush=True)


def print_json(results: Sequence[HostResult], out: TextIO, dump: Callable[[Any], str]) -> None:
    """One JSON object keyed by host name."""
    replies = {
        result.host.name: result.reply
        if result.reply is not None
        else {"status": "error", "reason": result.error, "call_failed": True}
        for result in results
    }
    print(dump(replies), file=out, flush=True)
