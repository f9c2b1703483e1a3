"""The shared shape of start, stop and restart: one watcher, several (by pattern), or all."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from circus.control.api import ArbiterAPI, WatcherAPI
from circus.control.commands._shared import MATCH_METHODS, select_watchers
from circus.control.commands.base import MATCH, MATCH_FLAG, WAITING, WAITING_FLAG, Command, Prop
from circus.errors import MessageError


class StartStopCommand(Command):
    usage = "[<name>] [--waiting] [--match=simple|glob|regex]"
    properties = (Prop("name", "str", help="watcher name or pattern"), MATCH, WAITING)
    flags = (WAITING_FLAG, MATCH_FLAG)

    def validate(self, props: Mapping[str, Any]) -> dict[str, Any]:
        props = super().validate(props)
        if props["match"] not in MATCH_METHODS:
            raise MessageError(f"unknown match method {props['match']} (use simple, glob or regex)")
        return props

    def one(self, watcher: WatcherAPI) -> Awaitable[Any]:
        raise NotImplementedError

    def several(self, arbiter: ArbiterAPI, watchers: list[WatcherAPI] | None) -> Awaitable[None]:
        raise NotImplementedError

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        watchers = select_watchers(arbiter, props)
        if watchers is not None and len(watchers) == 1:
            return await self.finish(props, self.one(watchers[0]), lambda info: {"info": info})
        return await self.finish(props, self.several(arbiter, watchers))

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 0, 1)
        props: dict[str, Any] = {}
        if args:
            props["name"] = args[0]
        if opts.get("match") not in (None, "glob"):
            props["match"] = opts["match"]
        if opts.get("waiting"):
            props["waiting"] = True
        return self.make_message(**props)
