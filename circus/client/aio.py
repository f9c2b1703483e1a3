"""The asyncio client of circusd's control channel (``zmq.asyncio``); see :mod:`circus.client`.

Apart from the blocking client so that a program using only :class:`~circus.client.CircusClient`
(circusctl above all, run hundreds of times a day) imports neither asyncio nor ``zmq.asyncio``
(~18 ms of CPU per start). ``from circus.client import AsyncCircusClient`` imports it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import zmq
import zmq.asyncio

from circus.client import (
    DEFAULT_TIMEOUT,
    _ClientBase,
    _decode_reply,
    _encode_call,
    cast_message,
    make_message,
)
from circus.errors import CallError
from circus.wire.diagnose import REFUSED_GRACE


class AsyncCircusClient(_ClientBase):
    """asyncio client; several calls may be in flight at once on one client."""

    def __init__(
        self,
        context: zmq.asyncio.Context | None = None,
        endpoint: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        ssh_server: str | None = None,
        ssh_keyfile: str | None = None,
        *,
        curve_secret_key: str | None = None,
        curve_server_key: str | None = None,
        refused_grace: float | None = REFUSED_GRACE,
    ):
        self.context = context or zmq.asyncio.Context.instance()
        self._setup(
            self.context,
            endpoint,
            timeout,
            curve_secret_key,
            curve_server_key,
            ssh_server,
            ssh_keyfile,
            refused_grace,
        )
        self._pending: dict[object, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task | None = None
        self.watch.on_refused = self._refused

    def _refused(self) -> None:
        """The handshake failed, or nothing listens at the endpoint: the calls waiting end now
        (see ``refused_grace``)."""
        waiting = [future for future in self._pending.values() if not future.done()]
        if waiting:
            error = CallError(self._explain())
            for future in waiting:
                if not future.done():
                    future.set_exception(error)

    async def call(self, cmd: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send a message and return the matching reply."""
        call_id, data = _encode_call(cmd)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending[call_id] = future
        self.watch.begin(loop)
        try:
            self._check_endpoint()
            self._ensure_reader()
            # asyncio.timeout, not wait_for: in Python 3.11, wait_for cancelled as the reply
            # comes returns the reply and drops the cancellation (the caller goes on)
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                return await self._exchange(self.socket.send(data), future)
        except TimeoutError:
            raise CallError(self._explain()) from None
        except zmq.ZMQError as exc:
            raise CallError(str(exc)) from None
        finally:
            self._pending.pop(call_id, None)
            if future.done() and not future.cancelled():
                future.exception()  # failed by _refused as the call ended otherwise: retrieved
            self.watch.end()

    @staticmethod
    async def _exchange(
        send: asyncio.Future[object], reply: asyncio.Future[dict[str, Any]]
    ) -> dict[str, Any]:
        """The send, then the reply, both under the call's timeout: a socket whose connection
        was refused (its CURVE key) takes no message, and its send would wait for ever; a
        refusal seen meanwhile fails ``reply`` (``_refused``), which ends the wait at once."""
        if not send.done():  # ZeroMQ did not take the message at once
            try:
                await asyncio.wait((send, reply), return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not send.done():
                    send.cancel()
            if not send.done() or send.cancelled():
                return await reply  # failed by _refused
        send.result()  # a send error
        return await reply

    async def send_message(self, command: str, **props: Any) -> dict[str, Any]:
        return await self.call(make_message(command, **props))

    async def cast(self, command: str, **props: Any) -> None:
        _, data = _encode_call(cast_message(command, **props))
        self.watch.begin(asyncio.get_running_loop())
        try:
            self._check_endpoint()
            async with asyncio.timeout(self.timeout):
                await self.socket.send(data)
        except TimeoutError:
            raise CallError(self._explain()) from None
        finally:
            self.watch.end()

    def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_replies())

    async def _read_replies(self) -> None:
        while self._pending:
            data = await self.socket.recv()
            reply = _decode_reply(data)
            if reply is None:
                continue
            future = self._pending.get(reply.get("id"))
            if future is not None and not future.done():
                future.set_result(reply)

    def stop(self) -> None:
        """Close the socket; calls still waiting for a reply fail now (CallError)."""
        if self._reader is not None:
            self._reader.cancel()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CallError("the client was closed before circusd replied"))
        self.watch.close()
        self.socket.close(linger=0)
        self._release_tunnel()

    close = stop

    async def __aenter__(self) -> AsyncCircusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
