"""incr: add processes to a watcher."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from circus.control.api import ArbiterAPI, WatcherAPI
from circus.control.commands.base import WAITING, WAITING_FLAG, Command, Prop
from circus.errors import MessageError

SINGLETON_MSG = "This watcher is a Singleton - not changing the number of processes"


class _ChangeProcesses(Command):
    """Shared by incr and decr."""

    usage = "<name> [<nb>] [--waiting]"
    properties = (
        Prop("name", "str", required=True, help="watcher name"),
        Prop("nb", "int", default=1, help="how many processes (default 1)"),
        WAITING,
    )
    flags = (WAITING_FLAG,)

    def validate(self, props: Mapping[str, Any]) -> dict[str, Any]:
        props = super().validate(props)
        if props["nb"] < 0:
            raise MessageError(
                f"message invalid 'nb' (command {self.name!r}): "
                f"expected a value >= 0, got {props['nb']}"
            )
        return props

    def change(self, watcher: WatcherAPI, nb: int) -> Awaitable[int]:
        raise NotImplementedError

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        watcher = self.get_watcher(arbiter, props["name"])
        if watcher.singleton:
            return {"numprocesses": watcher.numprocesses, "singleton": True}
        return await self.finish(
            props, self.change(watcher, props["nb"]), lambda count: {"numprocesses": count}
        )

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 1, 2)
        props: dict[str, Any] = {"name": args[0]}
        if len(args) > 1:
            props["nb"] = _parse_nb(self.name, args[1])
        if opts.get("waiting"):
            props["waiting"] = True
        return self.make_message(**props)

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") != "ok":
            return self.console_error(reply)
        if reply.get("singleton"):
            return SINGLETON_MSG
        return str(reply.get("numprocesses", "ok"))


def _parse_nb(command: str, text: str) -> int:
    from circus.errors import ArgumentError

    try:
        return int(text)
    except ValueError:
        raise ArgumentError(f"{command}: <nb> must be an integer, got {text!r}") from None


class Incr(_ChangeProcesses):
    """Increment the number of processes in a watcher

    Message::

        {"command": "incr", "properties": {"name": "web", "nb": 1, "waiting": false}}

    Properties: ``name`` (required), ``nb`` (default 1, >= 0), ``waiting``.

    Reply: with ``waiting``, ``{"numprocesses": N}`` (the new target); without, a plain ok.
    A singleton watcher is left alone: ``{"numprocesses": 1, "singleton": true}``.

    Command line::

        circusctl incr <name> [<nb>] [--waiting]
    """

    name = "incr"

    def change(self, watcher: WatcherAPI, nb: int) -> Awaitable[int]:
        return watcher.incr(nb)
