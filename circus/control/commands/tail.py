"""tail: the end of a watcher's output (new; circushttpd's live output view)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands.base import Command, Prop
from circus.errors import MessageError
from circus.output_tail import REPLY_BYTES


class Tail(Command):
    """Get the last output of a watcher

    Message::

        {"command": "tail", "properties": {"name": "web", "since": 42}}

    circusd keeps the last 64 KiB of each watcher's output (what its streams took, stdout and
    stderr, every process), numbered from 0. Reply: ``{"chunks": [{"seq", "pid", "stream",
    "time", "data"}], "next": N, "missed": bool}``, oldest first; ``data`` is the chunk decoded
    as UTF-8 (invalid bytes replaced). Pass ``next`` as ``since`` to get only newer chunks;
    ``missed`` is true when chunks from ``since`` on were already dropped. At most 256 KiB
    per reply (ask again from ``next``).

    Command line::

        circusctl tail <name> [--since N]
    """

    name = "tail"
    usage = "<name>"
    properties = (
        Prop("name", "str", required=True, help="watcher name"),
        Prop("since", "int", help="first seq wanted (default: all kept)"),
        Prop("max_bytes", "int", default=REPLY_BYTES, help="bytes per reply at most"),
    )

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        watcher = self.get_watcher(arbiter, props["name"])
        since = props.get("since")
        if since is not None and since < 0:
            raise MessageError(
                f"message invalid 'since' (command 'tail'): must be >= 0, not {since}"
            )
        max_bytes = props.get("max_bytes", REPLY_BYTES)
        if not 1 <= max_bytes <= REPLY_BYTES:
            raise MessageError(
                f"message invalid 'max_bytes' (command 'tail'): must be 1 to {REPLY_BYTES}"
            )
        return watcher.output_tail.since(since, max_bytes)

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 1, 1)
        return self.make_message(name=args[0])

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") != "ok":
            return self.console_error(reply)
        return "".join(chunk.get("data", "") for chunk in reply.get("chunks", [])).rstrip("\n")
