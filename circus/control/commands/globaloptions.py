"""globaloptions: options of the arbiter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control import options as opt
from circus.control.api import ArbiterAPI
from circus.control.commands.base import Command, Prop
from circus.errors import MessageError


class GlobalOptions(Command):
    """Get the arbiter options

    Message::

        {"command": "globaloptions", "properties": {"option": "pubsub_endpoint"}}

    Properties: ``option`` (optional, one key). Keys: ``endpoint``, ``pubsub_endpoint``,
    ``stats_endpoint``, ``check_delay``, ``multicast_endpoint`` and whatever else the arbiter
    reports.

    Reply: ``{"options": {key: value, ...}}`` (every key, or the one asked). An unknown key ->
    error errno 3 ``'KEY' not an existing option``.

    Command line::

        circusctl globaloptions [<option>]
    """

    name = "globaloptions"
    usage = "[<option>]"
    properties = (Prop("option", "str", help="one option name"),)

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        options = arbiter.global_options()
        wanted = props.get("option")
        if wanted:
            if wanted not in options:
                raise MessageError(
                    f"{wanted!r} not an existing option (known: {', '.join(options)})"
                )
            options = {wanted: options[wanted]}
        return {"options": options}

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 0, 1)
        return self.make_message(option=args[0]) if args else self.make_message()

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") != "ok":
            return self.console_error(reply)
        return "\n".join(
            f"{key}: {opt.option_to_text(key, value)}"
            for key, value in (reply.get("options") or {}).items()
        )
