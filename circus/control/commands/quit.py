"""quit: stop circusd (workers hosted by the kernel keep running by default)."""

from __future__ import annotations

from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands.base import WAITING, WAITING_FLAG, Command, Flag, Prop


class Quit(Command):
    """Quit the arbiter immediately

    Stops circusd. Workers hosted by papa-kernel and the sockets it holds keep running, so a
    new circusd adopts them without downtime; ``stop_workers`` stops them too (watchers with
    ``use_papa = false`` always stop, their processes are circusd's children).

    Message::

        {"command": "quit", "properties": {"waiting": false, "stop_workers": false}}

    Properties: ``waiting`` (reply once circusd has stopped its watchers), ``stop_workers``
    (bool, default false; new in this implementation).

    Reply: ok (sent before the control socket closes, also with ``waiting``).

    Command line::

        circusctl quit [--waiting] [--stop-workers]
    """

    name = "quit"
    usage = "[--waiting] [--stop-workers]"
    properties = (
        WAITING,
        Prop("stop_workers", "bool", default=False, help="also stop kernel-hosted workers"),
    )
    flags = (WAITING_FLAG, Flag("stop-workers", "also stop the workers hosted by the kernel"))

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        return await self.finish(props, arbiter.quit(stop_workers=props["stop_workers"]))

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 0, 0)
        props: dict[str, Any] = {}
        if opts.get("waiting"):
            props["waiting"] = True
        if opts.get("stop-workers") or opts.get("stop_workers"):
            props["stop_workers"] = True
        return self.make_message(**props)
