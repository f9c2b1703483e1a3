"""add: create a watcher."""

from __future__ import annotations

import pwd
from collections.abc import Mapping
from typing import Any

from circus.control import options as opt
from circus.control.api import ArbiterAPI
from circus.control.commands.base import WAITING, WAITING_FLAG, Command, Flag, Prop
from circus.errors import AlreadyExistError, MessageError


class Add(Command):
    """Add a watcher

    Creates a watcher in the running arbiter. It is stopped unless ``start`` is true.

    Message::

        {"command": "add",
         "properties": {"name": "web", "cmd": "/usr/bin/server --port 8000",
                        "args": [], "options": {"numprocesses": 2}, "start": false,
                        "waiting": false}}

    Properties: ``name`` (required), ``cmd`` (required), ``args`` (string or list of strings),
    ``options`` (object of watcher options, checked like ``set``), ``start`` (bool, default
    false), ``waiting`` (with ``start``: reply once started, with ``started``/``kept`` pids).

    Reply: ``{"status": "ok"}``. A watcher of the same name (any case) -> error errno 5
    ``'web' already exist``. When ``endpoint_owner`` is set on an ipc endpoint, ``options.uid``
    must be that user.

    Command line::

        circusctl add [--start] [--waiting] <name> <cmd...>

    Everything after the name is the command line (use ``--`` before a command that has its
    own ``--options``).
    """

    name = "add"
    usage = "[--start] [--waiting] <name> <cmd...>"
    properties = (
        Prop("name", "str", required=True, help="name of the new watcher"),
        Prop("cmd", "str", required=True, help="command line to run"),
        Prop("args", "any", help="arguments: a string or a list of strings"),
        Prop("options", "object", default={}, help="watcher options"),
        Prop("start", "bool", default=False, help="start the watcher at once"),
        WAITING,
    )
    flags = (Flag("start", "start the watcher immediately"), WAITING_FLAG)

    def validate(self, props: Mapping[str, Any]) -> dict[str, Any]:
        props = super().validate(props)
        if not props["name"].strip():
            raise MessageError("message invalid 'name' (command 'add'): must not be empty")
        try:
            props["args"] = opt.to_args(props.get("args"))
        except ValueError as exc:
            raise MessageError(f"message invalid 'args' (command 'add'): {exc}") from None
        props["options"] = opt.validate_options(props["options"])
        return props

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        options = dict(props["options"])
        check_endpoint_owner(arbiter, options)
        name = props["name"]
        if any(w.name.lower() == name.lower() for w in arbiter.watchers):
            raise AlreadyExistError(f"{name!r} already exist")
        watcher = await arbiter.add_watcher(
            name, props["cmd"], args=props.get("args"), options=options, start=False
        )
        if props["start"]:
            return await self.finish(props, watcher.start(), lambda result: result)
        return None

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        self.check_args(args, 2, None)
        props: dict[str, Any] = {
            "name": args[0],
            "cmd": " ".join(args[1:]),
            "start": bool(opts.get("start")),
        }
        if opts.get("waiting"):
            props["waiting"] = True
        return self.make_message(**props)


def check_endpoint_owner(arbiter: ArbiterAPI, options: dict[str, Any]) -> None:
    """In endpoint_owner mode (ipc endpoint + endpoint_owner), new watchers must run as the
    owner: whoever can write to the socket could otherwise start processes as circusd's user.
    The comparison is by uid, so ``"nobody"`` and ``65534`` are the same user."""
    owner = getattr(arbiter, "endpoint_owner", None)
    if not owner or not str(arbiter.endpoint).startswith("ipc://"):
        return
    wanted = options.get("uid")
    if wanted is None or _uid(wanted) != _uid(owner):
        raise MessageError(
            f"uid does not match endpoint_owner: options.uid must be {owner!r} (got {wanted!r})"
        )


def _uid(user: Any) -> int | None:
    if isinstance(user, int):
        return user
    text = str(user)
    if text.isdigit():
        return int(text)
    try:
        return pwd.getpwnam(text).pw_uid
    except KeyError:
        return None
