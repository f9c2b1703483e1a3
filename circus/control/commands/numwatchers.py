"""numwatchers: how many watchers exist."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands.base import Command


class NumWatchers(Command):
    """Get the number of watchers

    Message::

        {"command": "numwatchers"}

    Reply: ``{"numwatchers": N}`` (plugins and circusd-stats included).

    Command line::

        circusctl numwatchers
    """

    name = "numwatchers"

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        return {"numwatchers": arbiter.numwatchers()}

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") != "ok":
            return self.console_error(reply)
        return str(reply.get("numwatchers"))
