"""numwatchers: how many watchers exist."""

from __future__ import annotations

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

    async def execute(self, arbiter, props):
        return {"numwatchers": arbiter.numwatchers()}

    def console_msg(self, reply):
        if reply.get("status") != "ok":
            return self.console_error(reply)
        return str(reply.get("numwatchers"))
