"""dstats: process information about circusd itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands._shared import info_line
from circus.control.commands.base import Command


class DStats(Command):
    """Get circusd stats

    Message::

        {"command": "dstats"}

    Reply: ``{"info": {"pid", "cmdline", "username", "nice", "mem_info1", "mem_info2", "cpu",
    "mem", "ctime", "children": [...]}}`` for the circusd process.

    Command line::

        circusctl dstats
    """

    name = "dstats"

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        return {"info": arbiter.circusd_info()}

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") != "ok":
            return self.console_error(reply)
        info = dict(reply.get("info") or {})
        children = info.pop("children", None) or []
        lines = ["Main Process:", "    " + info_line(info)]
        if children:
            lines.append("Children:")
            lines.extend("    " + info_line(child) for child in children)
        return "\n".join(lines)
