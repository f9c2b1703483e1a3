"""signal: send a signal to processes of a watcher (or their children)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands.base import Command, Flag, Prop
from circus.errors import ArgumentError, MessageError


class Signal(Command):
    """Send a signal

    Targets: every process of the watcher, or one ``pid``. For each target: ``childpid`` ->
    only that child of it; ``children`` -> only its direct children; otherwise the process
    itself and, with ``recursive``, all its descendants too.

    Message::

        {"command": "signal",
         "properties": {"name": "web", "signum": "HUP", "pid": 1234, "childpid": 1240,
                        "children": false, "recursive": false}}

    Properties: ``name`` and ``signum`` (name or number) required; ``pid``, ``childpid``
    (alias ``child_pid``, needs ``pid``), ``children``, ``recursive``.

    Reply: ok once the signals are sent. A bad signal -> error errno 3 ``signal invalid``;
    ``childpid`` without ``pid`` -> errno 5; a pid that is not the watcher's -> errno 3.

    Command line::

        circusctl signal <name> [<pid>] [--children] [--recursive] <signum>
    """

    name = "signal"
    usage = "<name> [<pid>] [--children] [--recursive] <signum>"
    properties = (
        Prop("name", "str", required=True, help="watcher name"),
        Prop("signum", "signal", required=True, help="signal name or number"),
        Prop("pid", "int", help="only this process"),
        Prop("childpid", "int", help="only this child of pid"),
        Prop("children", "bool", default=False, help="only the children"),
        Prop("recursive", "bool", default=False, help="the process and all descendants"),
    )
    flags = (
        Flag("children", "only signal children of the process"),
        Flag("recursive", "signal the process and all its descendants"),
    )

    def validate(self, props: Mapping[str, Any]) -> dict[str, Any]:
        props = dict(props)
        if "child_pid" in props and "childpid" not in props:  # the manual's spelling
            props["childpid"] = props.pop("child_pid")
        props = super().validate(props)
        if "childpid" in props and "pid" not in props:
            raise ArgumentError("cannot specify childpid without pid")
        return props

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        watcher = self.get_watcher(arbiter, props["name"])
        pid = props.get("pid")
        if pid is not None and pid not in watcher.pids():
            raise MessageError(f"process {str(pid)!r} not found in {props['name']!r}")
        await watcher.signal(
            props["signum"],
            pid=pid,
            childpid=props.get("childpid"),
            children=props["children"],
            recursive=props["recursive"],
        )

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 2, 3)
        props: dict[str, Any] = {
            "name": args[0],
            "signum": args[-1],
            "children": bool(opts.get("children")),
            "recursive": bool(opts.get("recursive")),
        }
        if len(args) == 3:
            try:
                props["pid"] = int(args[1])
            except ValueError:
                raise ArgumentError(f"signal: <pid> must be an integer, got {args[1]!r}") from None
        return self.make_message(**props)
