"""``subscribe`` with ``stats_watcher``: a browser gets only the stats points it shows (the
home page the watchers' sums, a watcher's page that watcher's points), not one per process of
the whole circusd every second."""

from __future__ import annotations

import asyncio
import json
import time

import zmq
from web_clients import WsClient

TWO = """
[watcher:one]
cmd = sleep 1000

[watcher:two]
cmd = sleep 1000
"""


def test_stats_watcher_narrows_the_stats_feed(circusd, httpd_factory, tmp_path):
    stats_endpoint = f"ipc://{tmp_path}/stats.sock"
    # statsd = false: this test publishes the stats itself, circusd must not run circusd-stats
    daemon = circusd(TWO, circus_extra=f"statsd = false\nstats_endpoint = {stats_endpoint}\n")
    client = httpd_factory(daemon.endpoint).client()
    pid_one, pid_two = daemon.pids("one")[0], daemon.pids("two")[0]
    context = zmq.Context()
    pub = context.socket(zmq.PUB)  # stands in for circusd-stats
    pub.linger = 0
    pub.bind(stats_endpoint)

    def publish() -> None:
        now = time.time()
        for topic, body in (
            (f"stat.one.{pid_one}", {"pid": pid_one, "cpu": 1.0, "mem": 1.0, "time": now}),
            ("stat.one", {"cpu": 1.0, "mem": 1.0, "time": now}),
            (f"stat.two.{pid_two}", {"pid": pid_two, "cpu": 2.0, "mem": 2.0, "time": now}),
            ("stat.two", {"cpu": 2.0, "mem": 2.0, "time": now}),
        ):
            pub.send_multipart([topic.encode(), json.dumps(body).encode()])

    async def drain(ws, timeout: float) -> set[tuple[str, int | None]]:
        """(watcher, pid) of the stats points that arrive until none comes for ``timeout``."""
        got = set()
        try:
            while True:
                message = await ws.wait_for(lambda m: m["type"] == "stats", timeout=timeout)
                got.add((message["watcher"], message["pid"]))
        except AssertionError:
            return got

    async def collect(subscription: dict, expected: set) -> set[tuple[str, int | None]]:
        """What a browser with ``subscription`` receives: publish until ``expected`` came
        (ZeroMQ subscriptions join late), then a few more rounds in case more comes."""
        ws = await WsClient.connect(client)
        await ws.send({"type": "subscribe", "stats": True, **subscription})
        await ws.send({"type": "ping"})
        await ws.wait_for(lambda m: m["type"] == "pong")  # the subscription is in place
        seen: set[tuple[str, int | None]] = set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not expected <= seen:
            publish()
            seen |= await drain(ws, 0.3)
        for _ in range(3):
            publish()
            seen |= await drain(ws, 0.2)
        ws.close()
        return seen

    async def scenario():
        everything = {("one", pid_one), ("one", None), ("two", pid_two), ("two", None)}
        assert await collect({}, everything) == everything
        sums = {("one", None), ("two", None)}
        assert await collect({"stats_watcher": "*"}, sums) == sums
        two = {("two", pid_two), ("two", None)}
        assert await collect({"stats_watcher": "two"}, two) == two
        ws = await WsClient.connect(client)
        await ws.send({"type": "subscribe", "stats": True, "stats_watcher": 3})
        error = await ws.wait_for(lambda m: m["type"] == "error")
        assert "stats_watcher" in error["message"]
        ws.close()

    try:
        asyncio.run(asyncio.wait_for(scenario(), 90))
    finally:
        pub.close()
        context.term()
