"""A stand-in for circusd's control socket: a ROUTER in its own context and thread."""

from __future__ import annotations

import json
import threading
import time

import zmq


class Responder:
    """Answers every request at once with ``{"id", "status": "ok", "echo": properties["n"]}``
    while :attr:`answering` is true; afterwards it reads requests and never answers (a hung
    circusd). :meth:`close` unbinds it (for ipc, the socket file goes too): circusd is gone."""

    def __init__(self, endpoint: str) -> None:
        self.answering = True
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        self.sock.bind(endpoint)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self.sock.poll(20):
                continue
            identity, body = self.sock.recv_multipart()
            if not self.answering:
                continue
            request = json.loads(body)
            reply = {
                "id": request["id"],
                "status": "ok",
                "time": time.time(),
                "echo": request["properties"].get("n"),
            }
            self.sock.send_multipart([identity, json.dumps(reply).encode()])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close(0)
        self.ctx.term()
