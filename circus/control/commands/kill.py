"""kill: stop processes of a watcher now (signal, then SIGKILL after a timeout)."""

from __future__ import annotations

from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands.base import WAITING, WAITING_FLAG, Command, Flag, Prop
from circus.errors import MessageError


class Kill(Command):
    """Kill a specific process

    Sends ``signum`` (default: the watcher's stop_signal) to every process of the watcher, or to
    one ``pid``, then SIGKILL to whatever is still alive after ``graceful_timeout`` (default: the
    watcher's). Killed processes are respawned as the watcher's policy says.

    Message::

        {"command": "kill",
         "properties": {"name": "web", "pid": 1234, "signum": "INT",
                        "graceful_timeout": 5, "waiting": false}}

    Properties: ``name`` (required), ``pid`` (int or digit string), ``signum`` (name or number),
    ``graceful_timeout`` (seconds, number or numeric string), ``waiting``.

    Reply: ok. A pid that is not one of the watcher's -> error errno 3; a bad signal -> errno 3
    ``signal invalid``.

    Command line::

        circusctl kill <name> [<pid>] [--signum SIG] [--graceful_timeout SECONDS] [--waiting]
    """

    name = "kill"
    usage = "<name> [<pid>] [--signum SIG] [--graceful_timeout SECONDS] [--waiting]"
    properties = (
        Prop("name", "str", required=True, help="watcher name"),
        Prop("pid", "int", help="only this process"),
        Prop("signum", "signal", help="signal to send first (default: stop_signal)"),
        Prop("graceful_timeout", "number", help="seconds before SIGKILL"),
        WAITING,
    )
    flags = (
        WAITING_FLAG,
        Flag("signum", "overrides the watcher's stop_signal (number or name)", takes_value=True),
        Flag("graceful_timeout", "overrides the watcher's graceful_timeout", takes_value=True),
    )

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        watcher = self.get_watcher(arbiter, props["name"])
        pid = props.get("pid")
        if pid is not None and pid not in watcher.pids():
            raise MessageError(f"process {str(pid)!r} not found in {props['name']!r}")
        return await self.finish(
            props,
            watcher.kill(
                signum=props.get("signum"), pid=pid, graceful_timeout=props.get("graceful_timeout")
            ),
        )

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 1, 2)
        props: dict[str, Any] = {"name": args[0]}
        if len(args) > 1:
            props["pid"] = args[1]
        if opts.get("signum") is not None:
            props["signum"] = opts["signum"]
        if opts.get("graceful_timeout") is not None:
            props["graceful_timeout"] = opts["graceful_timeout"]
        if opts.get("waiting"):
            props["waiting"] = True
        return self.make_message(**props)
