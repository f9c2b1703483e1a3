"""CircusdLink (circushttpd's link to circusd) and its AsyncCircusClient against a fake circusd:
a ZeroMQ ROUTER in this process that answers every call, or none while it is 'stalled'."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import zmq
import zmq.asyncio

from circus.client import AsyncCircusClient
from circus.web import circusd as circusd_link
from circus.web.circusd import CircusdLink, Disconnected

pytestmark = pytest.mark.timeout(30)

STATUS = {"command": "status", "properties": {}}


class FakeCircusd:
    """Answers ``{"id", "status": "ok"}`` to each call; drops them while ``stalled``."""

    def __init__(self, endpoint: str) -> None:
        self.socket = zmq.asyncio.Context.instance().socket(zmq.ROUTER)
        self.socket.linger = 0
        self.socket.bind(endpoint)
        self.stalled = False
        self.task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        while True:
            identity, data = await self.socket.recv_multipart()
            if not self.stalled:
                call_id = json.loads(data)["id"]
                reply = json.dumps({"id": call_id, "status": "ok"}).encode()
                await self.socket.send_multipart([identity, reply])

    def close(self) -> None:
        self.task.cancel()
        self.socket.close(linger=0)


def test_a_call_of_a_replaced_client_failing_late_does_not_disconnect_the_link(tmp_path):
    """A call in flight when the link renewed its client (circusd had stopped answering)
    times out after circusd is back: the link stays connected (it flipped to disconnected,
    showing every browser the banner and renewing the client again, which orphaned the calls
    in flight on the new one)."""

    async def scenario() -> None:
        endpoint = f"ipc://{tmp_path}/ctl.sock"
        circusd = FakeCircusd(endpoint)
        link = CircusdLink(endpoint, timeout=1.0)
        try:
            await link.call("status")
            circusd.stalled = True
            late = asyncio.create_task(link.call("status"))  # lost with its client
            with pytest.raises(Disconnected):
                await link.call("status", timeout=0.2)  # as a heartbeat: the link renews
            assert not link.connected
            circusd.stalled = False
            await link.call("status")
            assert link.connected
            client = link.client
            with pytest.raises(Disconnected):
                await late
            assert link.connected, link.error
            assert link.client is client
        finally:
            await link.close()
            circusd.close()

    asyncio.run(scenario())


def test_calls_in_flight_when_the_link_renews_its_client_fail_at_once(tmp_path):
    """The link renews its client when circusd stops answering: the calls still waiting on
    the old one fail then (a browser gets its 503 and tries again) instead of waiting out
    their time-out (5 s) for a reply that can no longer come."""

    async def scenario() -> None:
        endpoint = f"ipc://{tmp_path}/ctl.sock"
        circusd = FakeCircusd(endpoint)
        link = CircusdLink(endpoint, timeout=10.0)
        try:
            await link.call("status")
            circusd.stalled = True
            waiting = asyncio.create_task(link.call("status"))
            with pytest.raises(Disconnected):
                await link.call("status", timeout=0.2)  # as a heartbeat: the link renews
            with pytest.raises(Disconnected, match="closed"):
                await asyncio.wait_for(waiting, 2.0)
        finally:
            await link.close()
            circusd.close()

    asyncio.run(scenario())


def test_a_call_cancelled_as_its_client_closes_ends_cancelled(tmp_path):
    """A call cancelled just before its client is stopped ends with CancelledError, not with
    the CallError stop() gives the calls still waiting (asyncio.wait_for returns the inner
    result when both happen at once: an exception nobody retrieved, printed at shutdown)."""

    async def scenario() -> None:
        endpoint = f"ipc://{tmp_path}/ctl.sock"
        circusd = FakeCircusd(endpoint)
        circusd.stalled = True
        client = AsyncCircusClient(endpoint=endpoint, timeout=10.0)
        try:
            # as Fleet calls: wait_for(call()) runs call() in a task of its own
            outer = asyncio.create_task(asyncio.wait_for(client.call(STATUS), 10.0))
            await asyncio.sleep(0.1)  # sent, waiting for its reply
            (inner,) = [t for t in asyncio.all_tasks() if t.get_coro().__name__ == "call"]
            outer.cancel()
            client.stop()
            await asyncio.gather(outer, return_exceptions=True)
            assert inner.cancelled(), repr(inner.exception())
        finally:
            client.stop()
            circusd.close()

    asyncio.run(scenario())


def test_a_call_cancelled_as_its_reply_comes_ends_cancelled(tmp_path):
    """A task cancelled in the loop iteration where its call's reply arrives ends cancelled
    (asyncio.wait_for in Python 3.11 returned the reply and dropped the cancellation: the
    task went on; circusd-stats, stopped by SIGTERM during a resync, then never stopped and
    a reloadconfig that removed it waited for its graceful_timeout: 1 run in ~5)."""

    async def scenario() -> None:
        endpoint = f"ipc://{tmp_path}/ctl.sock"
        circusd = FakeCircusd(endpoint)
        client = AsyncCircusClient(endpoint=endpoint, timeout=10.0)

        async def caller() -> None:
            await client.call(STATUS)
            await asyncio.sleep(10)  # where the cancellation lands if the reply came first

        try:
            task = asyncio.create_task(caller())
            await asyncio.sleep(0)  # the call is sent and waits for its reply
            (reply,) = client._pending.values()
            reply.add_done_callback(lambda _: task.cancel())  # as the reply is set
            done, _ = await asyncio.wait([task], timeout=5)
            assert done and task.cancelled()
        finally:
            client.stop()
            circusd.close()

    asyncio.run(scenario())


class FeedingCircusd(FakeCircusd):
    """A fake circusd with an event feed: ``globaloptions`` names its PUB socket; counts the
    commands."""

    def __init__(self, endpoint: str, pubsub: str) -> None:
        self.pubsub = zmq.asyncio.Context.instance().socket(zmq.PUB)
        self.pubsub.linger = 0
        self.pubsub.bind(pubsub)
        self.pubsub_endpoint = pubsub
        self.commands: list[str] = []
        super().__init__(endpoint)

    async def _serve(self) -> None:
        while True:
            identity, data = await self.socket.recv_multipart()
            message = json.loads(data)
            self.commands.append(message["command"])
            reply = {"id": message["id"], "status": "ok"}
            if message["command"] == "globaloptions":
                reply["options"] = {"pubsub_endpoint": self.pubsub_endpoint}
            await self.socket.send_multipart([identity, json.dumps(reply).encode()])

    def close(self) -> None:
        super().close()
        self.pubsub.close(linger=0)


def test_the_link_does_not_poll_a_circusd_whose_events_it_follows_and_sees_it_go_at_once(
    tmp_path, monkeypatch
):
    """While the link follows circusd's event feed it sends no heartbeat (``status``) for
    several periods of the heartbeat it sends without a feed (one every 3 s before), and
    circusd going away (its sockets closed, as when it exits) disconnects the link at once
    (before: at the next heartbeat, up to 3 s later, plus that call's 2 s time-out). That
    period is 0.3 s here instead of 3 s, so that the wait proves the same in less time."""
    monkeypatch.setattr(circusd_link, "HEARTBEAT_UNWATCHED", 0.3)

    async def scenario() -> tuple[list[str], float]:
        circusd = FeedingCircusd(f"ipc://{tmp_path}/ctl.sock", f"ipc://{tmp_path}/pub.sock")
        link = CircusdLink(f"ipc://{tmp_path}/ctl.sock")
        link.start()
        try:
            async with asyncio.timeout(10):
                while "globaloptions" not in circusd.commands or not link.connected:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)  # the feed's connection made (it wakes the heartbeat)
            before = len(circusd.commands)
            await asyncio.sleep(1.0)  # 3 periods of the heartbeat without a feed
            idle = circusd.commands[before:]
            began = time.monotonic()
            circusd.close()
            async with asyncio.timeout(10):
                while link.connected:
                    await asyncio.sleep(0.01)
            return idle, time.monotonic() - began
        finally:
            await link.close()
            circusd.close()

    idle, noticed = asyncio.run(scenario())
    assert idle == []
    assert noticed < 1.0
