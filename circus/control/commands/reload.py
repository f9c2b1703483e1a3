"""reload: reload every watcher or one watcher."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands._shared import reload_failures, with_reload_failures
from circus.control.commands.base import WAITING, WAITING_FLAG, Command, Flag, Prop


class Reload(Command):
    """Reload the arbiter or a watcher

    How a watcher reloads:

    - ``graceful`` false: a plain restart (stop, then start);
    - the watcher has ``send_hup``: SIGHUP to each process;
    - otherwise, not ``sequential``: ``numprocesses`` new processes are spawned, then the
      oldest ones are stopped; ``sequential``: each process in turn is stopped and replaced,
      with ``warmup_delay`` between steps.

    Message::

        {"command": "reload",
         "properties": {"name": "web", "graceful": true, "sequential": false,
                        "waiting": false}}

    Properties: ``name`` (optional: all watchers, by priority), ``graceful`` (default true),
    ``sequential`` (default false), ``waiting``.

    Reply: ok; for one watcher with ``waiting``, ``{"info": {"stopped": [...],
    "started": [...], "kept": [...]}}``.

    Extension: with ``waiting``, when the new processes of a watcher could not be spawned or
    all exited at once (a bad ``cmd``, ``uid``, ``working_dir``...), its running processes
    are kept and the reply has the key ``reload_failed``: ``{"web": {"error": "no new process
    could be spawned (...)", "kept": [1234], "time": 1700000000.5, "reason": "..."}}``, which
    circusctl prints as a ``web: reload failed: REASON`` line after ``ok``. ``status`` shows
    the same detail until a reload of that watcher succeeds (see ``status``).

    Command line::

        circusctl reload [<name>] [--terminate] [--waiting] [--sequential]

    ``--terminate`` sends ``graceful: false``.
    """

    name = "reload"
    usage = "[<name>] [--terminate] [--waiting] [--sequential]"
    properties = (
        Prop("name", "str", help="watcher name"),
        Prop("graceful", "bool", default=True, help="false: plain restart"),
        Prop("sequential", "bool", default=False, help="replace processes one by one"),
        WAITING,
    )
    flags = (
        WAITING_FLAG,
        Flag("sequential", "sequential reload"),
        Flag("terminate", "stop immediately (graceful false)"),
    )

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        graceful, sequential = props["graceful"], props["sequential"]
        if "name" in props:
            watcher = self.get_watcher(arbiter, props["name"])
            return await self.finish(
                props,
                watcher.reload(graceful=graceful, sequential=sequential),
                lambda info: {"info": info, **reload_failures([watcher])},
            )
        return await self.finish(
            props,
            arbiter.reload(graceful=graceful, sequential=sequential),
            lambda _none: reload_failures(arbiter.watchers),
        )

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") == "ok":
            return with_reload_failures(reply)
        return self.console_error(reply)

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 0, 1)
        props: dict[str, Any] = {}
        if args:
            props["name"] = args[0]
        props["graceful"] = not opts.get("terminate", False)
        props["sequential"] = bool(opts.get("sequential", False))
        props["waiting"] = bool(opts.get("waiting", False))
        return self.make_message(**props)
