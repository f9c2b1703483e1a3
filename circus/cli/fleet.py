"""circusctl's fleet mode: one command on several circusds at once, one block per host.

Several ``--endpoint``, or ``--hosts FILE`` (:mod:`circus.cli.hosts_file`), select it. The calls
run concurrently (:class:`circus.client.Fleet`), so the whole run takes about as long as the
slowest host, at most the timeout; an unreachable host is reported in its block.

Text output, in the order the hosts were given::

    == web1 (tcp://10.0.0.11:5555) ==
    <the command's usual output, or "error: <why>">

``--json``: one object keyed by host name, each value the host's reply, or
``{"status": "error", "reason": "<why>", "call_failed": true}`` when there is no reply.

``--serial`` (a rolling change): one host at a time, in order, each block printed as soon as
its host is done; the first host that fails stops the run, and the hosts after it are not
called (their block, or JSON entry with ``"skipped": true``, says so).
"""

from __future__ import annotations

from circus.util.no_openssl import import_asyncio

# Before the imports below (hence E402): asyncio without OpenSSL, which circusctl does not use
# (~4 ms of CPU; TLS would still load it on first use).
asyncio = import_asyncio()
# ruff: noqa: E402

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
    ssh_server: str | None = None,
    ssh_keyfile: str | None = None,
) -> list[Host]:
    """The hosts of ``--hosts FILE`` then those of ``--endpoint`` (which use the ``--curve-*``
    and ``--ssh*`` options); raises ConfigError on a bad file or a host given twice."""
    hosts = load_hosts(hosts_file) if hosts_file else []
    hosts += [
        Host(e, e, curve_secret_key, curve_server_key, ssh_server, ssh_keyfile) for e in endpoints
    ]
    seen: set[str] = set()
    for host in hosts:
        if host.name in seen:
            raise ConfigError(f"host {host.name!r} given more than once")
        seen.add(host.name)
    return hosts


def call_fleet(
    hosts: Sequence[Host],
    message: dict[str, Any],
    timeout: float,
    serial: bool = False,
    on_result: Callable[[HostResult], object] | None = None,
) -> list[HostResult]:
    """Send ``message`` to every host concurrently, or with ``serial`` one at a time until one
    fails (``on_result`` sees each result as it comes). Blocking; runs its own event loop."""

    async def fan_out() -> list[HostResult]:
        async with Fleet(hosts, timeout) as fleet:
            if serial:
                return await fleet.call_serial(message, on_result)
            return await fleet.call(message)

    return asyncio.run(fan_out())


def header(host: Host) -> str:
    where = host.endpoint if host.name == host.endpoint else f"{host.name} ({host.endpoint})"
    return f"== {where} =="


def skipped_reason(failed: HostResult) -> str:
    """Why ``--serial`` did not call a host."""
    return f"not run: {failed.host.name} failed before it (--serial stops at the first failure)"


class BlockPrinter:
    """Prints one block per host, a blank line between blocks: the header line, then the
    command's output or the error (call it with each result, or :meth:`skipped`)."""

    def __init__(self, command: Command, out: TextIO) -> None:
        self.command, self.out, self.printed = command, out, 0

    def __call__(self, result: HostResult) -> None:
        if result.reply is None:
            self._block(result.host, f"error: {result.error}")
        elif result.reply.get("status") == "error":
            text = self.command.console_msg(result.reply)  # "error: <reason>" for most
            self._block(result.host, text if text.startswith("error") else f"error: {text}")
        else:
            self._block(result.host, self.command.console_msg(result.reply))

    def skipped(self, host: Host, failed: HostResult) -> None:
        self._block(host, skipped_reason(failed))

    def _block(self, host: Host, body: str) -> None:
        gap = "\n" if self.printed else ""
        print(f"{gap}{header(host)}\n{body}", file=self.out, flush=True)
        self.printed += 1


def print_blocks(results: Sequence[HostResult], command: Command, out: TextIO) -> None:
    """One block per host (see :class:`BlockPrinter`)."""
    printer = BlockPrinter(command, out)
    for result in results:
        printer(result)


def print_json(
    results: Sequence[HostResult],
    out: TextIO,
    dump: Callable[[Any], str],
    skipped: Sequence[Host] = (),
) -> None:
    """One JSON object keyed by host name (``skipped``: hosts ``--serial`` did not call)."""
    replies = {
        result.host.name: result.reply
        if result.reply is not None
        else {"status": "error", "reason": result.error, "call_failed": True}
        for result in results
    }
    for host in skipped:
        replies[host.name] = {
            "status": "error",
            "reason": skipped_reason(results[-1]),
            "skipped": True,
        }
    print(dump(replies), file=out, flush=True)
