"""numprocesses: how many processes are running."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands.base import Command, Prop


class NumProcesses(Command):
    """Get the number of processes

    Message::

        {"command": "numprocesses", "properties": {"name": "web"}}

    Reply: ``{"numprocesses": N, "watcher_name": "web"}`` for one watcher (live processes,
    not the configured target), or ``{"numprocesses": N}`` summed over all watchers.

    Command line::

        circusctl numprocesses [<name>]
    """

    name = "numprocesses"
    usage = "[<name>]"
    properties = (Prop("name", "str", help="watcher name"),)

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        if "name" in props:
            watcher = self.get_watcher(arbiter, props["name"])
            return {"numprocesses": len(watcher.pids()), "watcher_name": props["name"]}
        return {"numprocesses": arbiter.numprocesses()}

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 0, 1)
        return self.make_message(name=args[0]) if args else self.make_message()

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") != "ok":
            return self.console_error(reply)
        return str(reply.get("numprocesses"))
