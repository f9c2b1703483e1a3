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

    def publish(mark: float) -> None:
        """One round: each watcher's process point and sum, then a mark (a sum of ``two``,
        which every subscription here wants) whose mem is ``mark``."""
        now = time.time()
        for topic, body in (
            (f"stat.one.{pid_one}", {"pid": pid_one, "cpu": 1.0, "mem": 1.0, "time": now}),
            ("stat.one", {"cpu": 1.0, "mem": 1.0, "time": now}),
            (f"stat.two.{pid_two}", {"pid": pid_two, "cpu": 2.0, "mem": 2.0, "time": now}),
            ("stat.two", {"cpu": 2.0, "mem": 2.0, "time": now}),
            ("stat.two", {"cpu": 2.0, "mem": mark, "time": now}),
        ):
            pub.send_multipart([topic.encode(), json.dumps(body).encode()])

    async def round_trip(
        ws, mark: float, wait: float = 0.5
    ) -> tuple[set[tuple[str, int | None]], bool]:
        """(watcher, pid) of the stats points that arrive up to the round's mark, and whether
        the mark came (each point within ``wait``; else the round was lost: ZeroMQ
        subscriptions join late). The stream keeps its order, so whatever of the round gets
        through comes before it."""
        got = set()
        try:
            while True:
                message = await ws.wait_for(lambda m: m["type"] == "stats", timeout=wait)
                got.add((message["watcher"], message["pid"]))
                if (message["watcher"], message["pid"], message["mem"]) == ("two", None, mark):
                    return got, True
        except AssertionError:
            return got, False

    marks = iter(range(100, 10_000))

    async def collect(subscription: dict, expected: set) -> set[tuple[str, int | None]]:
        """What a browser with ``subscription`` receives: rounds until ``expected`` came,
        then one more round, whole (its subscription was in place before it began)."""
        ws = await WsClient.connect(client)
        await ws.send({"type": "subscribe", "stats": True, **subscription})
        await ws.send({"type": "ping"})
        await ws.wait_for(lambda m: m["type"] == "pong")  # the subscription is in place
        seen: set[tuple[str, int | None]] = set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not expected <= seen:
            mark = float(next(marks))
            publish(mark)
            seen |= (await round_trip(ws, mark))[0]
        mark = float(next(marks))
        publish(mark)
        # this round must come whole: its points are waited for as long as a loaded machine
        # may take to relay them (a lost round above only costs another round)
        got, whole = await round_trip(ws, mark, wait=10)
        assert whole, "the last round's mark never came"
        ws.close()
        return seen | got

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
