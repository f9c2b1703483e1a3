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

    Extension: when processes are *outdated* (adopted after a restart of circusd, but spawned
    from another configuration than the current one; see docs/upgrades.md), the reply has an
    extra key: ``"outdated": [1234, 1235]`` (pids) with a name, ``"outdated": {"web": [1234]}``
    without. The key is absent when nothing is outdated, so the reply is the original's.

    Command line::

        circusctl status [<name>]

    prints the state, or ``name: state`` lines sorted by name; ``(outdated: PIDS)`` follows
    the state of a watcher with outdated processes.
    """

    name = "status"
    usage = "[<name>]"
    properties = (Prop("name", "str", help="watcher name"),)

    async def execute(self, arbiter, props):
        if "name" in props:
            watcher = self.get_watcher(arbiter, props["name"])
            reply = {"status": watcher.status()}
            outdated = watcher.outdated_pids()
            return {**reply, "outdated": outdated} if outdated else reply
        watchers = arbiter.watchers
        reply = {"statuses": {watcher.name: watcher.status() for watcher in watchers}}
        outdated = {w.name: pids for w in watchers if (pids := w.outdated_pids())}
        return {**reply, "outdated": outdated} if outdated else reply

    def message(self, *args, **opts):
        self.check_args(args, 0, 1)
        return self.make_message(name=args[0]) if args else self.make_message()

    def console_msg(self, reply):
        if "statuses" in reply:
            statuses, outdated = reply["statuses"], reply.get("outdated") or {}
            return "\n".join(
                f"{name}: {statuses[name]}{_outdated(outdated.get(name))}"
                for name in sorted(statuses)
            )
        if reply.get("status") not in (None, "error"):
            return f"{reply['status']}{_outdated(reply.get('outdated'))}"
        return self.console_error(reply)


def _outdated(pids) -> str:
    return f" (outdated: {','.join(str(pid) for pid in pids)})" if pids else ""
