"""``StatsClient``: the original's subscriber to the stats endpoint.

``for watcher, subtopic, stat in StatsClient(endpoint): ...`` yields ``subtopic`` as a string
(a pid or a socket fd) or ``None`` for aggregates, and ``stat`` the decoded JSON body. It reads
ours and the original circusd-stats alike (same topics and bodies).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import zmq

from circus.control.defaults import default_stats_endpoint
from circus.wire import boundedjson, tunnel

TOPIC = b"stat."


class StatsClient(tunnel.TunnelUser):
    """Blocking SUB client of the stats endpoint; ``timeout`` (seconds) bounds each wait of
    :meth:`next_stat` (iteration waits forever, as the original). With ``ssh_server``
    (``user@host[:port]``) it subscribes through an ssh tunnel (:mod:`circus.wire.ssh`) to
    ``endpoint`` as that host sees it (default: the default stats endpoint there)."""

    def __init__(
        self,
        endpoint: str | None = None,
        ssh_server: str | None = None,
        context: zmq.Context | None = None,
        timeout: float = 1.0,
        ssh_keyfile: str | None = None,
    ) -> None:
        self.endpoint, address, self.tunnel = tunnel.through(
            endpoint, default_stats_endpoint, ssh_server, ssh_keyfile
        )
        self.timeout = timeout
        self._own_context = context is None
        self.context = context or zmq.Context()
        self.pubsub_socket = self.context.socket(zmq.SUB)
        self.pubsub_socket.linger = 0
        self.pubsub_socket.setsockopt(zmq.SUBSCRIBE, TOPIC)
        try:
            self.pubsub_socket.connect(address)
        except BaseException:
            self.stop()
            raise
        self._poller = zmq.Poller()
        self._poller.register(self.pubsub_socket, zmq.POLLIN)

    def next_stat(self, timeout: float | None = None) -> tuple[str, str | None, Any] | None:
        """The next ``(watcher, subtopic, stat)``, or None if nothing came within ``timeout``."""
        wait = self.timeout if timeout is None else timeout
        while self._poller.poll(int(wait * 1000)):
            topic, body = self.pubsub_socket.recv_multipart()[:2]
            parts = topic.decode("utf-8", "replace").split(".")
            try:
                stat = boundedjson.loads(body, boundedjson.MAX_REPLY_DEPTH)
            except ValueError:
                continue  # not a stat
            if len(parts) == 3:
                return parts[1], parts[2], stat
            if len(parts) == 2:
                return parts[1], None, stat
        return None

    def poller(self, *fds: int) -> zmq.Poller:
        """A poller of the stats socket and of ``fds`` (a keyboard, a signal wakeup fd), for
        a program that waits for either; :meth:`next_stat` with ``timeout=0`` then reads."""
        poller = zmq.Poller()
        poller.register(self.pubsub_socket, zmq.POLLIN)
        for fd in fds:
            poller.register(fd, zmq.POLLIN)
        return poller

    def iter_messages(self) -> Iterator[tuple[str, str | None, Any]]:
        """Yields ``(watcher, subtopic, stat)`` forever (until :meth:`stop`)."""
        while not self.pubsub_socket.closed:
            message = self.next_stat()
            if message is not None:
                yield message

    __iter__ = iter_messages

    def stop(self) -> None:
        self.pubsub_socket.close(linger=0)
        if self._own_context:
            self.context.term()
        self._release_tunnel()

    def __enter__(self) -> StatsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
