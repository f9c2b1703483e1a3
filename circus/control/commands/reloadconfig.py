"""reloadconfig: re-read the configuration file and converge to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands._shared import reload_failures, with_reload_failures
from circus.control.commands.base import WAITING, WAITING_FLAG, Command


class ReloadConfig(Command):
    """Reload the configuration file

    Re-reads the configuration file and applies the differences: new watchers, sockets and
    plugins are created and started, removed ones stopped, changed ones updated (a change of
    ``numprocesses`` only adds or removes processes; other changes restart the watcher).

    Message::

        {"command": "reloadconfig", "properties": {"waiting": false}}

    Reply: ok; with ``waiting``, ``{"changes": {"added": [...], "removed": [...],
    "changed": [...]}}`` (a new field). A configuration with errors -> error errno 3 listing
    every problem; nothing running is changed then. With ``waiting``, a watcher whose changed
    processes could not be replaced (their running processes are kept) is named in the key
    ``reload_failed``, as in ``reload``.

    Command line::

        circusctl reloadconfig [--waiting]
    """

    name = "reloadconfig"
    usage = "[--waiting]"
    properties = (WAITING,)
    flags = (WAITING_FLAG,)

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        return await self.finish(
            props,
            arbiter.reload_config(),
            lambda changes: {"changes": changes, **reload_failures(arbiter.watchers)},
        )

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") == "ok":
            return with_reload_failures(reply)
        return self.console_error(reply)

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 0, 0)
        return self.make_message(waiting=True) if opts.get("waiting") else self.make_message()
