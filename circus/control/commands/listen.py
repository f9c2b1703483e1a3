"""listen: subscribe to events (a pub/sub feature, not a control command)."""

from __future__ import annotations

from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands.base import Command
from circus.errors import MessageError


class Listen(Command):
    """Subscribe to a watcher event

    Events are published on the pub/sub endpoint (``pubsub_endpoint``) as two frames:
    the topic ``watcher.<name>.<event>`` and a JSON object. Events: spawn, reap, kill, stop,
    start, reload, updated, add, remove, hook_success, hook_failure.

    Sent to the control socket, ``listen`` is answered with error errno 3
    ``invalid message. use a pub/sub socket``.

    Command line::

        circusctl listen [<endpoint>] [<topic>...]

    Prints ``<topic>: <json>`` per event until interrupted. Topics are prefixes
    (``watcher.web.`` for one watcher); none means every event. Without ``--endpoint`` (or an
    ``ipc://``/``tcp://`` argument) circusctl asks circusd for its pubsub endpoint.
    """

    name = "listen"
    usage = "[<endpoint>] [<topic>...]"
    msg_type = "sub"

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        raise MessageError("invalid message. use a pub/sub socket")

    def message(self, *args: str, **opts: Any) -> dict[str, Any]:
        """For listen, the 'message' is the list of topics to subscribe to."""
        topics = [arg for arg in args if "://" not in arg]
        return {
            "command": self.name,
            "topics": topics or [""],
            "endpoint": next((arg for arg in args if "://" in arg), None),
        }
