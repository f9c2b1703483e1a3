"""``CircusPlugin``: the base class of plugins, as the original Circus' manual describes it.

A plugin is a separate process (run by ``circus-plugin``, usually under the watcher
``plugin:NAME`` that circusd makes of a ``[plugin:NAME]`` section) with two ZeroMQ sockets:

* a SUB socket on circusd's pub/sub endpoint, subscribed to ``watcher.`` (every watcher event,
  the original's topic): each event is handed to :meth:`CircusPlugin.handle_recv` as the
  ``[topic, body]`` frames, which :meth:`~CircusPlugin.split_data` and
  :meth:`~CircusPlugin.load_message` decode;
* a DEALER client of circusd's control endpoint for :meth:`~CircusPlugin.call` (waits for the
  reply) and :meth:`~CircusPlugin.cast` (fire and forget).

Both run on :attr:`CircusPlugin.loop`, a tornado ``IOLoop`` (on its own asyncio loop) made
current before :meth:`~CircusPlugin.handle_init` runs, so a plugin's timers
(``tornado.ioloop.PeriodicCallback``), sockets (``self.loop.add_handler``) and tornado clients
use it, as the manual's "Async requests" asks. ``call`` blocks that loop until circusd answers
(at most :attr:`CircusPlugin.call_timeout` seconds), as the original's did.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any, ClassVar

from circus.config.converters import to_bool

if TYPE_CHECKING:
    import zmq
    from zmq.eventloop.zmqstream import ZMQStream

    from circus.client import CircusClient
    from circus.wire.ssh import SshTunnel

log = logging.getLogger(__name__)

#: Longest wait for circusd's reply to :meth:`CircusPlugin.call` (seconds): a ``restart`` or
#: ``stop`` is answered when done, which may take a watcher's ``graceful_timeout``.
CALL_TIMEOUT = 60.0


class CircusPlugin:
    """Base class to write plugins.

    Options:

    - **endpoint** -- the circusd ZMQ endpoint
    - **pubsub_endpoint** -- the circusd ZMQ pub/sub endpoint
    - **check_delay** -- the configured check delay
    - **ssh_server** -- ``user@host[:port]``: reach circusd through an ssh tunnel (both
      endpoints as that host sees them; :attr:`ssh_keyfile` names the key)
    - **config** -- free config mapping (every key of the ``[plugin:NAME]`` section but
      ``use``; values are strings)
    """

    #: A short name of the plugin (the original's attribute; used in log lines).
    name = ""
    #: Subclasses may declare their constructor options and their kinds
    #: (``config_options = {"port": "port"}``, :mod:`circus.config.plugin_options`): circusd
    #: then checks them when it loads the configuration. ``active`` is always allowed.
    config_options: ClassVar[dict[str, str] | None] = None
    #: Longest wait for a reply to :meth:`call` (seconds).
    call_timeout = CALL_TIMEOUT
    #: CURVE (circusd with ``curve_secret_key``): this plugin's certificate file (with its
    #: secret key) and circusd's public certificate; set before :meth:`start`
    #: (``circus-plugin --curve-secret-key/--curve-server-key``).
    curve_secret_key: str | None = None
    curve_server_key: str | None = None
    #: With ``ssh_server``: the ssh key to log in with (``circus-plugin --ssh_keyfile``); ssh's
    #: own keys and agent when None.
    ssh_keyfile: str | None = None

    def __init__(
        self,
        endpoint: str,
        pubsub_endpoint: str,
        check_delay: float,
        ssh_server: str | None = None,
        **config: Any,
    ):
        self.daemon = True
        self.config = config
        self.active = to_bool(config.get("active", True))
        self.endpoint = endpoint
        self.pubsub_endpoint = pubsub_endpoint
        self.check_delay = check_delay
        self.ssh_server = ssh_server
        self._id = os.urandom(16).hex().encode("ascii")  # as uuid4().hex, without uuid
        self.running = False
        #: True once :meth:`handle_init` returned and the sockets are connected
        self.started = False
        # tornado, ZeroMQ and the client are imported by the plugin process that runs a plugin,
        # not by circusd, which imports the class to check its config_options
        from tornado.ioloop import IOLoop

        self.loop = IOLoop(make_current=False)
        self.context: zmq.Context | None = None
        self.client: CircusClient | None = None
        self.sub_socket: zmq.Socket | None = None
        self.substream: ZMQStream | None = None
        self._sub_tunnel: SshTunnel | None = None

    # --- running -------------------------------------------------------------------------

    def initialize(self) -> None:
        """Open the control client and the SUB socket (on :attr:`loop`)."""
        import zmq
        from zmq.eventloop.zmqstream import ZMQStream

        from circus.client import CircusClient
        from circus.events import TOPIC_PREFIX, subscriber_socket
        from circus.wire import tunnel

        self.context = zmq.Context()
        keys: dict[str, Any] = {
            "curve_secret_key": self.curve_secret_key,
            "curve_server_key": self.curve_server_key,
        }
        self.client = CircusClient(
            self.context,
            self.endpoint,
            self.call_timeout,
            self.ssh_server,
            self.ssh_keyfile,
            **keys,
        )
        _, address, self._sub_tunnel = tunnel.through(
            self.pubsub_endpoint, lambda: self.pubsub_endpoint, self.ssh_server, self.ssh_keyfile
        )
        self.sub_socket = subscriber_socket(self.context, address, [TOPIC_PREFIX], *keys.values())
        self.substream = ZMQStream(self.sub_socket, self.loop)
        self.substream.on_recv(self._dispatch)

    def start(self) -> None:
        """Run the plugin until :meth:`stop`: make :attr:`loop` current, call
        :meth:`handle_init`, connect to circusd, then serve events."""
        if not self.active:
            raise ValueError("Will not start an inactive plugin")
        import asyncio

        asyncio.set_event_loop(self.loop.asyncio_loop)
        self.handle_init()
        self.initialize()
        self.running = self.started = True
        try:
            self.loop.start()
        finally:
            self._close_sockets()

    def stop(self) -> None:
        """Call :meth:`handle_stop` and stop the loop (:meth:`start` then returns); after
        :meth:`start` returned, close the loop."""
        if not self.running:
            if not self.loop.asyncio_loop.is_running():
                self.loop.close(all_fds=False)
            return
        self.running = False
        try:
            self.handle_stop()
        finally:
            self.loop.stop()

    def _close_sockets(self) -> None:
        if self.substream is not None:
            self.substream.close()
            self.substream = None
        if self.client is not None:
            self.client.stop()
            self.client = None
        if self.sub_socket is not None:
            self.sub_socket.close(linger=0)
            self.sub_socket = None
        if self._sub_tunnel is not None:
            self._sub_tunnel.release()
            self._sub_tunnel = None
        if self.context is not None:
            self.context.destroy(linger=0)
            self.context = None

    def _dispatch(self, frames: list[bytes]) -> None:
        try:
            self.handle_recv(frames)
        except Exception:  # one bad event must not end the plugin
            log.exception("%s: handle_recv failed on %r", type(self).__name__, frames[:1])

    # --- talking to circusd ----------------------------------------------------------------

    def call(self, command: str, **props: Any) -> dict[str, Any]:
        """Sends the command to **circusd**

        Options:

        - **command** -- the command to call
        - **props** -- keyword arguments to add to the call

        Returns the JSON mapping sent back by **circusd** (raises
        :class:`circus.errors.CallError` if it does not answer within :attr:`call_timeout`).
        """
        from circus.client import make_message

        return self._client().call(make_message(command, **props))

    def cast(self, command: str, **props: Any) -> None:
        """Fire-and-forget a command to **circusd**

        Options:

        - **command** -- the command to call
        - **props** -- keyword arguments to add to the call
        """
        self._client().cast(command, **props)

    def _client(self) -> CircusClient:
        if self.client is None:
            raise RuntimeError("the plugin is not connected to circusd (not started)")
        return self.client

    # --- methods to override -------------------------------------------------------------

    def handle_recv(self, data: list[bytes]) -> None:
        """Receives every event published by **circusd**

        Options:

        - **data** -- a tuple containing the topic and the message.
        """
        raise NotImplementedError()

    def handle_stop(self) -> None:
        """Called right before the plugin is stopped by Circus."""

    def handle_init(self) -> None:
        """Called right before a plugin is started - in the thread context."""

    # --- decoding events -----------------------------------------------------------------

    @staticmethod
    def split_data(data: Any) -> tuple[str, str, bytes]:
        """``(watcher name, event, body)`` of the ``[topic, body]`` frames of an event
        (topic ``watcher.<name>.<event>``)."""
        topic, msg = data
        if isinstance(topic, bytes):
            topic = topic.decode("utf-8", "replace")
        parts = topic.split(".")
        return parts[1], parts[2], msg

    @staticmethod
    def load_message(msg: bytes | str) -> Any:
        """The JSON body of an event, decoded."""
        return json.loads(msg)
