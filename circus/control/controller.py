"""The control socket of circusd: a ZeroMQ ROUTER answering JSON commands.

Framing: a client DEALER sends one frame (the JSON request); the ROUTER sees
``[identity, body]`` and answers ``[identity, reply]``, which the DEALER receives as one frame.
Every malformed input gets an error reply to the sender's identity (the original dropped
messages of another number of frames): a REQ client's ``[identity, b"", body]`` is answered
in its own envelope ``[identity, b"", error]`` so the REQ socket accepts it, any other frame
count gets ``[identity, error]``. Bodies are checked by :mod:`circus.control.codec` (size,
nesting depth, JSON, shape). The only input that gets no reply is a frame over
:data:`MAX_MESSAGE_BYTES`: ZeroMQ drops the connection before circusd sees it. Each request
runs as its own task on the arbiter's loop, so a slow ``stop --waiting`` does not delay
``status``; the arbiter serialises conflicting operations per watcher itself, so this module
holds no lock and the original's "arbiter is already running X command" errors do not exist.

``msg_type: cast`` requests are executed without any reply (errors are only logged).

Stopping: :meth:`Controller.stop` may be called from inside a command (``quit`` ends with it).
The reply of that command is sent before the socket closes (the original's ``quit --waiting``
could hang forever, issue #1131), and the socket lingers briefly so queued replies get out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import zmq
import zmq.asyncio

from circus.control.api import ArbiterAPI
from circus.control.codec import (
    Request,
    decode_request,
    encode,
    error_from_exception,
    ok_reply,
    salvage_id,
    tagged,
)
from circus.control.commands import Command, Commands
from circus.control.commands.base import background_owner
from circus.errors import CircusError, MessageError, UnknownCommandError
from circus.util.no_openssl import isawaitable
from circus.util.tasks import TaskSet
from circus.wire import security

if TYPE_CHECKING:
    from circus.control.discovery import DiscoveryResponder

log = logging.getLogger(__name__)

# A frame bigger than this is never delivered: ZeroMQ disconnects the sender (MAXMSGSIZE), so
# no error reply is possible; requests between MAX_REQUEST_BYTES and this get one.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
CLOSE_LINGER_MS = 1000  # on stop, give queued replies (quit's own) this long to leave


class Controller:
    """Serve control commands for ``arbiter`` on a ROUTER socket bound at ``endpoint``."""

    def __init__(
        self,
        arbiter: ArbiterAPI,
        endpoint: str,
        settings: Any = None,
        *,
        context: zmq.asyncio.Context | None = None,
        commands: Mapping[str, Command] | None = None,
    ):
        self.arbiter = arbiter
        self.endpoint = endpoint
        self.endpoint_owner: str | None = getattr(settings, "endpoint_owner", None)
        self.curve = security.CurveServer.from_settings(settings)
        self.settings = settings
        self.discovery: DiscoveryResponder | None = None
        # a command's module is imported when the command is first asked for: most circusd
        # runs use a few of the 27 (~0.4 MB and ~5 ms of CPU at each start for all of them)
        self.commands: Mapping[str, Command] = commands if commands is not None else Commands()
        self._context = context
        self._socket: zmq.asyncio.Socket | None = None
        self._ipc_file: security.IpcSocketFile | None = None
        self._server: asyncio.Task | None = None
        self._inflight: dict[asyncio.Task, tuple[bytes, Request | None]] = {}
        #: operations commands left running without a waiting client (Command.finish):
        #: cancelled on quit (cancel_background) and when the controller stops
        self.background = TaskSet("control commands")
        self._replied: set[asyncio.Task] = set()
        self._closing = False

    @property
    def endpoint_owner_mode(self) -> bool:
        """``add`` is restricted to the owner's uid only for ipc endpoints (as the original)."""
        return bool(self.endpoint_owner) and self.endpoint.startswith("ipc://")

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the socket and start serving (returns at once)."""
        context = self._context or zmq.asyncio.Context.instance()
        if self.curve is not None:
            security.ensure_authenticator(context, self.curve)
        try:
            sock = context.socket(zmq.ROUTER)
        except BaseException:
            if self.curve is not None:
                security.release_authenticator(context)
            raise
        try:
            sock.linger = 0
            sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
            sock.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a reconnecting client keeps its identity
            security.secure_server_socket(sock, self.endpoint, self.curve)
            ipc_path = security.prepare_ipc_path(self.endpoint)
            sock.bind(self.endpoint)
            if ipc_path:
                self._ipc_file = security.restrict_ipc_socket(ipc_path, self.endpoint_owner)
        except BaseException:
            sock.close(linger=0)
            if self.curve is not None:  # stop() will not: it stops a controller that served
                security.release_authenticator(context)
            raise
        self._socket = sock
        self._context = context
        self._server = asyncio.create_task(self._serve(), name="circus-controller")
        log.info("control channel listening on %s", self.endpoint)
        self._start_discovery()

    def _start_discovery(self) -> None:
        """Answer multicast discovery when ``multicast_endpoint`` is set. A failure leaves
        discovery off with a warning (as the original): the control channel is what matters."""
        multicast = getattr(self.settings, "multicast_endpoint", None)
        if not multicast:
            return
        try:
            from circus.control.discovery import DiscoveryResponder  # only when it is on

            public = self.curve.load()[0].decode() if self.curve is not None else None
            responder = DiscoveryResponder(
                multicast,
                self.endpoint,
                getattr(self.settings, "multicast_interfaces", ("lo",)),
                curve=self.curve is not None,
                curve_public_key=public,
            )
            responder.start()
        except (OSError, ValueError, CircusError) as exc:
            log.warning("[circus] multicast_endpoint: discovery is off: %s", exc)
            return
        self.discovery = responder

    async def cancel_background(self) -> None:
        """Cancel the operations commands left running (all but the caller's own task: a
        ``quit`` sent without ``waiting`` is one of them) and wait for them to end."""
        await self.background.cancel()

    async def stop(self) -> None:
        """Stop serving; reply to the command that asked for the stop, then close."""
        await self.cancel_background()
        if self.discovery is not None:
            self.discovery.stop()
            self.discovery = None
        if self._socket is None or self._closing:
            return
        self._closing = True
        if self._server is not None:
            self._server.cancel()
            await asyncio.gather(self._server, return_exceptions=True)
        current = asyncio.current_task()
        if current in self._inflight and current not in self._replied:
            identity, request = self._inflight[current]
            if request is not None and not request.cast:
                await self._send(identity, ok_reply(None, request.id))
            self._replied.add(current)
        self._socket.close(linger=CLOSE_LINGER_MS)
        self._socket = None
        if self._ipc_file is not None:
            self._ipc_file.remove()
        if self.curve is not None and self._context is not None:
            security.release_authenticator(self._context)
        log.info("control channel on %s closed", self.endpoint)

    # --- serving --------------------------------------------------------------------------------

    async def _serve(self) -> None:
        assert self._socket is not None
        while True:
            try:
                frames = await self._socket.recv_multipart(copy=True)
            except asyncio.CancelledError:
                raise
            except zmq.ZMQError as exc:
                if self._closing or exc.errno == zmq.ENOTSOCK:
                    return
                log.warning("control socket receive failed: %s", exc)
                continue
            identity, parts = frames[0], frames[1:]
            task = asyncio.create_task(self._handle(identity, parts))
            self._inflight[task] = (identity, None)
            task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task) -> None:
        self._inflight.pop(task, None)
        self._replied.discard(task)
        if not task.cancelled() and task.exception() is not None:  # a bug in this module
            log.error("control message handler crashed", exc_info=task.exception())

    async def _handle(self, identity: bytes, parts: list[bytes]) -> None:
        task = asyncio.current_task()
        envelope = framing_envelope(parts)
        try:
            if len(parts) != 1:
                raise frames_error(parts)
            request = decode_request(parts[0])
        except CircusError as exc:
            log.info("bad control message %r: %s", parts[-1][:200] if parts else b"", exc)
            if getattr(exc, "cast", False):
                return
            reply = error_from_exception(exc, getattr(exc, "request_id", None))
            await self._send(identity, reply, envelope)
            return
        except Exception as exc:  # a bug in the codec: still answer, never crash the handler
            log.error("decoding a control message failed", exc_info=exc)
            await self._send(identity, error_from_exception(exc), envelope)
            return
        if task is not None:
            self._inflight[task] = (identity, request)
        log.debug("command %s %s", request.command, request.properties)
        reply = await self.dispatch(request)
        if request.cast:
            if reply.get("status") == "error":
                log.warning("cast command %r failed: %s", request.command, reply.get("reason"))
            return
        if task in self._replied:
            return  # answered early by stop()
        await self._send(identity, reply)

    async def dispatch(self, request: Request) -> dict[str, Any]:
        """Validate and execute one request; always returns a reply (never raises).

        Usable without a socket, e.g. by circusd's signal handlers or tests.
        """
        command_name = request.command
        try:
            command = self.commands.get(command_name.lower())
            if command is None:
                raise UnknownCommandError(f"unknown command: {command_name!r}")
            props = dict(request.properties)
            validated = command.validate(props)
            if validated is not None:  # None: the original's validate, which edits in place
                props = validated
            background_owner.set(self.background)  # this task's context only
            result: Any = command.execute(self.arbiter, props)
            if isawaitable(result):  # a plain execute (the original's) is accepted
                result = await result
            return ok_reply(result, request.id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reply = error_from_exception(exc, request.id, command_name)
            if reply.get("tb"):
                log.error("command %r failed: %s", command_name, reply["reason"], exc_info=exc)
            return reply

    async def _send(
        self, identity: bytes, reply: dict[str, Any], envelope: tuple[bytes, ...] = ()
    ) -> None:
        if self._socket is None:
            log.debug("reply dropped, the control socket is closed: %s", reply)
            return
        try:
            data = encode(reply)
        except (TypeError, ValueError) as exc:  # a command returned something JSON cannot hold
            data = encode(error_from_exception(exc, reply.get("id")))
        try:
            await self._socket.send_multipart([identity, *envelope, data])
        except zmq.ZMQError as exc:
            log.debug("could not send reply to %r: %s", identity, exc)


def framing_envelope(parts: list[bytes]) -> tuple[bytes, ...]:
    """The frames to put between identity and reply: ``(b"",)`` for a REQ client, else none."""
    return (b"",) if len(parts) == 2 and parts[0] == b"" else ()


def frames_error(parts: list[bytes]) -> MessageError:
    """The error for a message that is not exactly one frame after the identity."""
    what = f"{len(parts)} frames"
    if framing_envelope(parts):
        what += ", an empty delimiter and the body: REQ sockets are not supported"
    return tagged(
        MessageError(
            f"message invalid: got {what}; send the JSON request as one frame from a DEALER socket"
        ),
        salvage_id(parts[-1]) if parts else None,
    )
