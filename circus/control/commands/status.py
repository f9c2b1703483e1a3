"""status: the state of one watcher or of all."""

from __future__ import annotations

from circus.control.commands.base import Command, Prop


class Status(Command):
    """Get the status of a watcher or all watchers

    Watcher states: ``stopped``, ``starting``, ``active``, ``stopping``; an active watcher
    whose papa-kernel was lost says ``recovering`` until its workers are back.

    Message::

        {"command": "status", "properties": {"name": "web"}}

    Reply: with a name ``{"status": "active"}`` (the watcher state replaces "ok" in the
    ``status`` field, as in the original); without, ``{"statuses": {"web": "active",
    "worker": "stopped"}}`` (names as configured).

    Command line::

        circusctl status [<name>]

    prints the state, or ``name: state`` lines sorted by name.
    """

    name = "status"
    usage = "[<name>]"
    properties = (Prop("name", "str", help="watcher name"),)

    async def execute(self, arbiter, props):
        if "name" in props:
            return {"status": self.get_watcher(arbiter, props["name"]).status()}
        return {"statuses": {watcher.name: watcher.status() for watcher in arbiter.watchers}}

    def message(self, *args, **opts):
        self.check_args(args, 0, 1)
        return self.make_message(name=args[0]) if args else self.make_message()

    def console_msg(self, reply):
        if "statuses" in reply:
            statuses = reply["statuses"]
            return "\n".join(f"{name}: {statuses[name]}" for name in sorted(statuses))
        if reply.get("status") not in (None, "error"):
            return str(reply["status"])
        return self.console_error(reply)
