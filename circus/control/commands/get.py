"""get: selected options of a watcher."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control import options as opt
from circus.control.api import ArbiterAPI
from circus.control.commands.base import Command, Prop


class Get(Command):
    """Get the value of specific watcher options

    Message::

        {"command": "get", "properties": {"name": "web", "keys": ["numprocesses", "env"]}}

    Properties: ``name`` (required), ``keys`` (required, list of option names; a single string
    is taken as a one-element list).

    Reply: ``{"options": {"numprocesses": 2, "env": {...}}}``. An unknown key -> error errno 3
    ``'KEY' option not found``.

    Command line::

        circusctl get <name> <key> [<key>...]
    """

    name = "get"
    usage = "<name> <key> [<key>...]"
    properties = (
        Prop("name", "str", required=True, help="watcher name"),
        Prop("keys", "strlist", required=True, help="option names"),
    )

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        watcher = self.get_watcher(arbiter, props["name"])
        return {"options": watcher.get_options(props["keys"])}

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 2, None)
        return self.make_message(name=args[0], keys=list(args[1:]))

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") != "ok":
            return self.console_error(reply)
        return "\n".join(
            f"{key}: {opt.option_to_text(key, value)}"
            for key, value in (reply.get("options") or {}).items()
        )
