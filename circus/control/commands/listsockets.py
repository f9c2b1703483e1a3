"""listsockets: the sockets circusd manages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands.base import Command


class ListSockets(Command):
    """Get the list of sockets

    Message::

        {"command": "listsockets"}

    Reply: ``{"sockets": [{"fd": 5, "name": "web", "backlog": 2048, "host": "127.0.0.1",
    "port": 8080}, {"fd": 6, "name": "local", "backlog": 2048, "path": "/run/app.sock"}]}``,
    sorted by fd. A papa-held ``so_reuseport`` socket has ``"fd": null`` (each process binds
    its own copy) and is listed last.

    Command line::

        circusctl listsockets
    """

    name = "listsockets"

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        return {"sockets": sorted(arbiter.sockets_info(), key=_by_fd)}

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") != "ok" or "sockets" not in reply:
            return self.console_error(reply)
        lines = []
        for sock in reply["sockets"]:
            where = sock["path"] if "path" in sock else f"{sock.get('host')}:{sock.get('port')}"
            if sock.get("fd") is None:  # only a kernel-held so_reuseport socket has no fd
                lines.append(
                    f"-:socket '{sock.get('name')}' at {where} "
                    "(so_reuseport: each process binds its own)"
                )
                continue
            lines.append(f"{sock.get('fd')}:socket '{sock.get('name')}' at {where}")
        return "\n".join(lines)


def _by_fd(sock: Mapping[str, Any]) -> tuple[bool, int]:
    """By fd; the sockets without one (kernel-held so_reuseport) last."""
    fd = sock.get("fd")
    return (fd is None, fd or 0)
