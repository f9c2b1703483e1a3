"""options: every option of a watcher."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control import options as opt
from circus.control.api import ArbiterAPI
from circus.control.commands.base import Command, Prop


class Options(Command):
    """Get the value of all options for a watcher

    Message::

        {"command": "options", "properties": {"name": "web"}}

    Reply: ``{"options": {"cmd": "...", "env": {...}, "numprocesses": 2, ...}}``: every
    watcher option of the configuration manual plus the watcher's free-form keys, sorted by
    name.

    Command line::

        circusctl options <name>

    prints ``key: value`` lines (env as ``K=V,K2=V2``).
    """

    name = "options"
    usage = "<name>"
    properties = (Prop("name", "str", required=True, help="watcher name"),)

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        options = self.get_watcher(arbiter, props["name"]).options()
        return {"options": {key: options[key] for key in sorted(options)}}

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 1, 1)
        return self.make_message(name=args[0])

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") != "ok":
            return self.console_error(reply)
        return "\n".join(
            f"{key}: {opt.option_to_text(key, value)}"
            for key, value in (reply.get("options") or {}).items()
        )
