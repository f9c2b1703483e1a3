"""options: every option of a watcher."""

from __future__ import annotations

from circus.control import options as opt
from circus.control.commands import register
from circus.control.commands.base import Command, Prop


@register
class Options(Command):
    """Get the value of all options for a watcher

    Message::

        {"command": "options", "properties": {"name": "web"}}

    Reply: ``{"options": {"numprocesses": 2, "cmd": "...", "env": {...}, ...}}``: every
    watcher option of the configuration manual plus the watcher's free-form keys.

    Command line::

        circusctl options <name>

    prints ``key: value`` lines sorted by key (env as ``K=V,K2=V2``).
    """

    name = "options"
    usage = "<name>"
    properties = (Prop("name", "str", required=True, help="watcher name"),)

    async def execute(self, arbiter, props):
        return {"options": dict(self.get_watcher(arbiter, props["name"]).options())}

    def message(self, *args, **opts):
        self.check_args(args, 1, 1)
        return self.make_message(name=args[0])

    def console_msg(self, reply):
        if reply.get("status") != "ok":
            return self.console_error(reply)
        options = reply.get("options") or {}
        return "\n".join(
            f"{key}: {opt.option_to_text(key, options[key])}" for key in sorted(options)
        )
