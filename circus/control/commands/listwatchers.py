"""list: watcher names, or the pids of one watcher."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands.base import Command, Prop


class List(Command):
    """Get list of watchers or processes in a watcher

    Message::

        {"command": "list"}
        {"command": "list", "properties": {"name": "web"}}

    Reply: without name ``{"watchers": ["circusd-stats", "web"]}`` (lower-case names, sorted,
    plugins and circusd-stats included); with a name ``{"pids": [1234, 1235]}`` (live processes,
    in spawn order). Extension: ``"outdated": [1234]`` is added with a name when some of the
    processes are outdated (see ``status``); the key is absent otherwise.

    Command line::

        circusctl list [<name>]

    prints the names or pids separated by commas (only the pids: scripts parse them; ``status``
    shows the outdated ones).
    """

    name = "list"
    usage = "[<name>]"
    properties = (Prop("name", "str", help="watcher name"),)

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        if "name" in props:
            watcher = self.get_watcher(arbiter, props["name"])
            reply = {"pids": list(watcher.pids())}
            outdated = watcher.outdated_pids()
            return {**reply, "outdated": outdated} if outdated else reply
        return {"watchers": sorted(watcher.name.lower() for watcher in arbiter.watchers)}

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 0, 1)
        return self.make_message(name=args[0]) if args else self.make_message()

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") == "ok":
            if "pids" in reply:
                return ",".join(str(pid) for pid in reply["pids"])
            if "watchers" in reply:
                return ",".join(reply["watchers"])
        return self.console_error(reply)
