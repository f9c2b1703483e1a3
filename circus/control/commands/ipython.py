"""ipython: an IPython kernel inside circusd, for debugging."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import Any

from circus.control.api import ArbiterAPI
from circus.control.commands.base import Command
from circus.errors import CallError, MessageError

_KERNEL_APP = None  # the one embedded kernel of this circusd process


class IPython(Command):
    """Create shell into circusd process

    Starts an IPython kernel inside circusd (once) with ``arbiter`` in its namespace, and
    replies with the kernel's connection file; circusctl then opens an IPython console on it.
    Needs ``ipykernel`` installed in circusd's environment and ``jupyter_console`` in
    circusctl's.

    Message::

        {"command": "ipython"}

    Reply: ``{"shell": "kernel-PID.json", "msg": null}``. When ipykernel is absent: error errno 3
    ``ipython: ipykernel is not installed in circusd's environment``.

    Command line::

        circusctl ipython
    """

    name = "ipython"

    async def execute(self, arbiter: ArbiterAPI, props: dict[str, Any]) -> Any:
        global _KERNEL_APP
        if importlib.util.find_spec("ipykernel") is None:
            raise MessageError(
                "ipython: ipykernel is not installed in circusd's environment "
                "(pip install ipykernel)"
            )
        connection_file = f"kernel-{os.getpid()}.json"
        if _KERNEL_APP is None:  # pragma: no cover - needs ipykernel
            from ipykernel.kernelapp import IPKernelApp

            app = IPKernelApp.instance(connection_file=connection_file)
            app.initialize([])
            app.kernel.user_ns = {"arbiter": arbiter}
            app.kernel.start()
            _KERNEL_APP = app
        return {"shell": connection_file, "msg": None}

    def console_msg(self, reply: Mapping[str, Any]) -> str:
        if reply.get("status") != "ok":
            return self.console_error(reply)
        if not reply.get("shell"):
            return f"error: could not start the ipython kernel: {reply.get('msg')}"
        try:  # pragma: no cover - needs jupyter_console
            from jupyter_console.app import ZMQTerminalIPythonApp
        except ImportError:
            raise CallError(
                f"kernel started ({reply['shell']}); install jupyter_console to "
                f"attach: jupyter console --existing {reply['shell']}"
            ) from None
        ZMQTerminalIPythonApp.launch_instance(["--existing", reply["shell"]])  # pragma: no cover
        return ""  # pragma: no cover
