"""set: change options of a watcher."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from circus.control import options as opt
from circus.control.api import ArbiterAPI
from circus.control.commands._shared import reload_failures, with_reload_failures
from circus.control.commands.base import WAITING, WAITING_FLAG, Command, Prop
from circus.errors import ArgumentError, MessageError


class Set(Command):
    """Set a watcher option

    Each key is checked and converted (see ``options``/``add`` for the keys), then applied; the
    watcher emits one ``updated`` event per key and reloads its processes when a key needs it
    (cmd, args, env, working_dir, uid, gid, shell, max_age...).

    Message::

        {"command": "set",
         "properties": {"name": "web", "options": {"numprocesses": 3, "env": {"A": "1"}},
                        "waiting": false}}

    Properties: ``name`` (required), ``options`` (required, object), ``waiting``.

    Reply: ok (with ``waiting``, when the new processes of the reload failed and the running
    ones are kept, the key ``reload_failed`` as in ``reload``). Unknown key or wrong value ->
    error errno 3 naming the key (nothing is changed).

    Command line::

        circusctl set <name> <key> <value> [<key> <value>...] [--waiting]

    Values are converted from text: numbers, booleans (true/false/yes/no/on/off/1/0), signals
    by name, ``env`` as ``K=V,K2=V2``, ``hooks`` as ``name:dotted.path,name2:path2``.
    """

    name = "set"
    usage = "<name> <key> <value> [<key> <value>...] [--waiting]"
    properties = (
        Prop("name", "str", required=True, help="watcher name"),
        Prop("options", "object", required=True, help="option name -> value"),
        WAITING,
    )
    flags = (WAITING_FLAG,)

    def validate(self, props: Mapping[str, Any]) -> dict[str, Any]:
        props = super().validate(props)
        if not props["options"]:
            raise MessageError("message invalid 'options' (command 'set'): no option given")
        props["options"] = opt.validate_options(props["options"])
        return props

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        watcher = self.get_watcher(arbiter, props["name"])
        return await self.finish(
            props, watcher.set_options(props["options"]), lambda _none: reload_failures([watcher])
        )

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") == "ok":
            return with_reload_failures(reply)
        return self.console_error(reply)

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 3, None)
        name, pairs = args[0], list(args[1:])
        if len(pairs) % 2:
            raise ArgumentError(
                f"set: every key needs a value (got {len(pairs)} words after the name)"
            )
        options: dict[str, Any] = {}
        for key, text in zip(pairs[::2], pairs[1::2], strict=True):
            key = key.lower()
            try:
                options[key] = opt.convert_cli_option(key, text)
            except (ValueError, MessageError) as exc:
                raise ArgumentError(f"set: {exc}") from None
        props: dict[str, Any] = {"name": name, "options": options}
        if opts.get("waiting"):
            props["waiting"] = True
        return self.make_message(**props)
