"""How many calls circushttpd makes to circusd for a page's request: the real application
(tornado, CircusdLink) on 127.0.0.1, against a fake circusd (a ZeroMQ ROUTER in this process)
that counts the commands it is sent."""

from __future__ import annotations

import asyncio
import collections
import json

import pytest
import support
import zmq
import zmq.asyncio

from circus.web.auth import Authenticator
from circus.web.circusd import CircusdLink

pytestmark = pytest.mark.timeout(30)

WATCHERS = 30


class CountingCircusd:
    """Answers status, list and get as a circusd with :data:`WATCHERS` watchers of two
    processes each; counts the commands."""

    def __init__(self, endpoint: str) -> None:
        self.socket = zmq.asyncio.Context.instance().socket(zmq.ROUTER)
        self.socket.linger = 0
        self.socket.bind(endpoint)
        self.commands: collections.Counter[str] = collections.Counter()
        self.names = [f"w{i:02d}" for i in range(WATCHERS)]
        self.task = asyncio.create_task(self._serve())

    def pids(self, name: str) -> list[int]:
        first = 1000 + 10 * self.names.index(name)
        return [first, first + 1]

    def answer(self, command: str, props: dict) -> dict:
        name = props.get("name")
        if command == "status" and name is None:
            reply: dict = {"statuses": dict.fromkeys(self.names, "active")}
            if props.get("processes"):
                reply["processes"] = {
                    n: {"pids": self.pids(n), "numprocesses": 2} for n in self.names
                }
            return reply
        if command == "list" and name is not None:
            return {"pids": self.pids(name)}
        if command == "get":
            return {"options": {"numprocesses": 2}}
        return {}

    async def _serve(self) -> None:
        while True:
            identity, data = await self.socket.recv_multipart()
            message = json.loads(data)
            command = message["command"]
            self.commands[command] += 1
            reply = {"id": message["id"], "status": "ok"}
            reply.update(self.answer(command, message.get("properties") or {}))
            await self.socket.send_multipart([identity, json.dumps(reply).encode()])

    def close(self) -> None:
        self.task.cancel()
        self.socket.close(linger=0)


def test_the_watcher_list_asks_circusd_once_whatever_the_number_of_watchers(tmp_path):
    """``GET /api/watchers`` with 30 watchers: one call to circusd (``status`` with the
    processes), not one plus two per watcher (61)."""
    # imported by the test, not at collection: tornado.web costs every xdist worker ~60 ms of
    # CPU, and each collects every file (docs/dev/test-suite.md, "pytest's own cost")
    import tornado.httpclient

    from circus.web.app import WebState, make_app
    from circus.web.base import SESSION_COOKIE

    async def scenario() -> tuple[collections.Counter, dict]:
        fake = CountingCircusd(f"ipc://{tmp_path}/circusd.sock")
        link = CircusdLink(f"ipc://{tmp_path}/circusd.sock")  # no heartbeat: not started
        state = WebState(link=link, authenticator=Authenticator(token="t" * 32))
        port = support.free_port()
        server = make_app(state).listen(port, "127.0.0.1")
        session = state.sessions.create("token")
        client = tornado.httpclient.AsyncHTTPClient()
        try:
            response = await client.fetch(
                f"http://127.0.0.1:{port}/api/watchers",
                headers={"Cookie": f"{SESSION_COOKIE}={session.sid}"},
            )
            return collections.Counter(fake.commands), json.loads(response.body)
        finally:
            server.stop()
            await state.close()
            fake.close()

    commands, body = asyncio.run(scenario())
    assert sum(commands.values()) == 1, commands
    watchers = body["watchers"]
    assert [w["name"] for w in watchers] == [f"w{i:02d}" for i in range(WATCHERS)]
    assert watchers[3]["pids"] == [1030, 1031]
    assert all(w["processes"] == 2 and w["numprocesses"] == 2 for w in watchers)
