"""stats: process information of watchers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands._shared import (
    extended_reply,
    info_block,
    policy_detail,
    policy_details,
    policy_note,
)
from circus.control.commands.base import Command, Flag, Prop
from circus.errors import ArgumentError, MessageError


class Stats(Command):
    """Get process infos

    Message::

        {"command": "stats"}
        {"command": "stats", "properties": {"name": "web", "extended": false}}
        {"command": "stats", "properties": {"name": "web", "process": 1234}}

    Properties: ``name``, ``process`` (pid, needs ``name``), ``extended`` (adds what the
    watcher's ``extended_stats`` hook returns).

    Reply: all watchers ``{"infos": {"web": {"1234": info}}}``; one watcher
    ``{"name": "web", "info": {"1234": info}}``; one process ``{"process": 1234, "info":
    info}``. ``info`` has ``pid, cmdline, username, nice, mem_info1, mem_info2, cpu, mem,
    ctime, age, started, wid, children``; a process that has just died shows the string
    ``"No such process (stopped?)"``. Unknown pid -> error errno 3.

    Extension: when a watcher's restart policy gave up, the reply has the key ``gave_up`` as in
    ``status`` (the detail with a name, ``{"web": detail}`` for all watchers); absent otherwise.
    The same for a watcher stopped as flapping: the key ``flapping`` as in ``status``, and for
    a watcher with a hook whose last run raised: the key ``hook_failed`` as in ``status``.

    Command line::

        circusctl stats [--extended] [<watchername>] [<pid>]

    prints ``name:`` then one block per process; ``(gave up: REASON)`` follows the name of a
    watcher whose restart policy gave up, ``(flapping: REASON)`` one stopped as flapping,
    ``(hook failed: REASON)`` one whose hook raised.
    """

    name = "stats"
    usage = "[--extended] [<watchername>] [<pid>]"
    properties = (
        Prop("name", "str", help="watcher name"),
        Prop("process", "int", help="one pid"),
        Prop("extended", "bool", default=False, help="include the extended_stats hook"),
    )
    flags = (Flag("extended", "include info from the extended_stats hook"),)

    def validate(self, props: Mapping[str, Any]) -> dict[str, Any]:
        props = super().validate(props)
        if "process" in props and "name" not in props:
            raise MessageError("message invalid 'process' (command 'stats'): needs 'name'")
        return props

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        extended = props["extended"]
        if "name" not in props:
            watchers = arbiter.watchers
            reply = {"infos": {w.name: w.stats(extended=extended) for w in watchers}}
            return extended_reply(reply, **policy_details(watchers))
        watcher = self.get_watcher(arbiter, props["name"])
        if "process" not in props:
            reply = {"name": props["name"], "info": watcher.stats(extended=extended)}
            return extended_reply(reply, **policy_detail(watcher))
        pid = props["process"]
        info = watcher.stats(pid=pid, extended=extended)
        return {"process": pid, "info": info.get(str(pid), info)}

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 0, 2)
        props: dict[str, Any] = {}
        if args:
            props["name"] = args[0]
        if len(args) == 2:
            try:
                props["process"] = int(args[1])
            except ValueError:
                raise ArgumentError(f"stats: <pid> must be an integer, got {args[1]!r}") from None
        props["extended"] = bool(opts.get("extended"))
        return self.make_message(**props)

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") != "ok":
            return self.console_error(reply)
        gave_up, flapping = reply.get("gave_up") or {}, reply.get("flapping") or {}
        hooks = reply.get("hook_failed") or {}
        if "infos" in reply:
            lines = []
            for watcher, infos in reply["infos"].items():
                note = policy_note(gave_up.get(watcher), flapping.get(watcher), hooks.get(watcher))
                lines.append(f"{watcher}:{note}")
                lines.extend(f"{pid}: {info_block(info)}" for pid, info in (infos or {}).items())
            return "\n".join(lines)
        if "name" in reply:
            lines = [f"{reply['name']}:{policy_note(gave_up, flapping, hooks)}"]
            lines.extend(
                f"{pid}: {info_block(info)}" for pid, info in (reply.get("info") or {}).items()
            )
            return "\n".join(lines)
        return f"{reply.get('process')}: {info_block(reply.get('info'))}\n"
