"""kernel: what papa-kernel holds (new; circushttpd's kernel page)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands.base import Command


class Kernel(Command):
    """Get what papa-kernel holds

    Message::

        {"command": "kernel"}

    What survives a restart of circusd. Reply: ``{"available": true, "endpoint",
    "processes": [{"name", "watcher", "wid", "pid", "running", "started", "exit_code",
    "args"}], "sockets": [{"name", "family", "type", "host", "port", "path", "backlog",
    "fileno"}], "values": N, "more_processes": N}``. Without a kernel (every watcher has
    ``use_papa = false``): ``{"available": false, "reason": ...}`` with empty lists.

    Command line::

        circusctl kernel
    """

    name = "kernel"

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        return await arbiter.kernel_view()

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") != "ok":
            return self.console_error(reply)
        if not reply.get("available"):
            return f"no kernel: {reply.get('reason')}"
        lines = [f"papa-kernel at {reply.get('endpoint')}"]
        for proc in reply.get("processes", []):
            state = "running" if proc.get("running") else f"exited {proc.get('exit_code')}"
            lines.append(f"  process {proc.get('name')} pid={proc.get('pid')} {state}")
        for sock in reply.get("sockets", []):
            where = sock.get("path") or f"{sock.get('host')}:{sock.get('port')}"
            lines.append(f"  socket {sock.get('name')} {where}")
        return "\n".join(lines)
