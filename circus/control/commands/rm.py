"""rm: remove a watcher."""

from __future__ import annotations

from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands.base import WAITING, WAITING_FLAG, Command, Flag, Prop


class Rm(Command):
    """Remove a watcher

    The watcher's processes are stopped gracefully, unless ``nostop``: then they keep running,
    no longer managed by circus.

    Message::

        {"command": "rm", "properties": {"name": "web", "nostop": false, "waiting": false}}

    Properties: ``name`` (required), ``nostop`` (default false), ``waiting``.

    Reply: ok.

    Command line::

        circusctl rm <name> [--waiting] [--nostop]
    """

    name = "rm"
    usage = "<name> [--waiting] [--nostop]"
    properties = (
        Prop("name", "str", required=True, help="watcher name"),
        Prop("nostop", "bool", default=False, help="leave the processes running"),
        WAITING,
    )
    flags = (WAITING_FLAG, Flag("nostop", "do not stop the watcher's processes"))

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        watcher = self.get_watcher(arbiter, props["name"])
        return await self.finish(props, arbiter.rm_watcher(watcher.name, nostop=props["nostop"]))

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 1, 1)
        props: dict[str, Any] = {"name": args[0]}
        props.update(self.flag_props(opts, "waiting", "nostop"))
        return self.make_message(**props)
