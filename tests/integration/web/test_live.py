"""Live views of circushttpd: events, stats and output over the WebSocket, the kernel's view,
and a circusd that goes away and comes back."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import support
import zmq
from web_clients import WsClient

TALKER = """sh -c 'while true; do echo "tick $$"; sleep 0.2; done'"""


@pytest.fixture(scope="module")
def shared_circus_extra(shared_runtime_dir):
    # statsd = false: the stats test publishes the stats; circusd must not run circusd-stats
    return f"statsd = false\nstats_endpoint = {stats_endpoint(shared_runtime_dir)}\n"


def stats_endpoint(shared_runtime_dir) -> str:
    return f"ipc://{shared_runtime_dir}/stats.sock"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


@pytest.mark.puts_back
def test_events_pushed_over_the_websocket(daemon, httpd):
    client = httpd.client()

    async def scenario():
        ws = await WsClient.connect(client)
        hello = await ws.next()
        assert hello["type"] == "hello"
        if not hello["connected"]:  # circushttpd's link to circusd may still be connecting
            await ws.wait_for(lambda m: m["type"] == "circusd" and m["connected"] is True)
        assert client.post("/api/watchers/sleeper/incr").status == 200
        spawn = await ws.wait_for(lambda m: m["type"] == "event" and m["event"] == "spawn")
        assert spawn["watcher"] == "sleeper"
        assert spawn["data"]["process_pid"] in daemon.pids("sleeper")
        await ws.send({"type": "ping"})
        await ws.wait_for(lambda m: m["type"] == "pong")
        await ws.send({"type": "bogus"})
        error = await ws.wait_for(lambda m: m["type"] == "error")
        assert "bogus" in error["message"]
        ws.close()

    run(scenario())


@pytest.mark.puts_back
def test_output_tail_over_api_and_websocket(daemon, httpd):
    daemon.ok("add", name="talker", cmd=TALKER, start=True, waiting=True)
    client = httpd.client()
    support.wait_for(
        lambda: "tick" in json.dumps(client.get("/api/watchers/talker/output").json()),
        timeout=20,
    )
    first = client.get("/api/watchers/talker/output").json()
    assert first["chunks"][0]["stream"] == "stdout"
    assert first["chunks"][0]["pid"] == daemon.pids("talker")[0]
    later = client.get(f"/api/watchers/talker/output?since={first['next']}").json()
    assert all(c["seq"] >= first["next"] for c in later["chunks"])
    assert client.get("/api/watchers/talker/output?since=-1").status == 400

    async def scenario():
        ws = await WsClient.connect(client)
        await ws.send({"type": "subscribe", "output": "talker"})
        backlog = await ws.wait_for(lambda m: m["type"] == "output")
        assert backlog["seq"] == first["chunks"][0]["seq"]  # what circusd still has comes first
        live = await ws.wait_for(lambda m: m["type"] == "output" and m["seq"] > later["next"])
        assert live["watcher"] == "talker" and "tick" in live["data"]
        ws.close()

    run(scenario())


@pytest.mark.read_only
def test_kernel_view_lists_the_workers(daemon, httpd):
    view = httpd.client().get("/api/kernel").json()
    assert view["available"] is True
    mine = {p["pid"] for p in view["processes"] if p["watcher"] == "sleeper" and p["running"]}
    assert mine == set(daemon.pids("sleeper"))


@pytest.mark.read_only  # the stats (published here) no other test of this module reads
def test_stats_relayed_and_kept_as_history(daemon, httpd, shared_runtime_dir):
    """On the module's circusd and circushttpd: the stats this test publishes are the only
    ones they see (statsd = false), and no other test reads them."""
    client = httpd.client()
    pid = daemon.pids("sleeper")[0]
    context = zmq.Context()
    pub = context.socket(zmq.PUB)  # stands in for circusd-stats
    pub.linger = 0
    pub.bind(stats_endpoint(shared_runtime_dir))

    def publish(cpu: float) -> None:
        now = time.time()
        for topic, body in (
            (f"stat.sleeper.{pid}", {"pid": pid, "cpu": cpu, "mem": 1.5, "time": now}),
            ("stat.sleeper", {"cpu": cpu, "mem": 1.5, "time": now}),
            ("stat.sleeper.notapid", {"cpu": 1}),
            (f"stat.sleeper.{pid}", {"cpu": "N/A", "mem": "N/A"}),
        ):
            pub.send_multipart([topic.encode(), json.dumps(body).encode()])

    async def scenario():
        ws = await WsClient.connect(client)
        await ws.send({"type": "subscribe", "stats": True})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            publish(12.5)
            try:
                message = await ws.wait_for(lambda m: m["type"] == "stats", timeout=0.5)
                break
            except AssertionError:
                continue
        else:
            raise AssertionError("no stats message relayed")
        assert message["watcher"] == "sleeper" and message["cpu"] == 12.5
        assert ws.batches >= 1  # the burst (a process and its watcher) came in one frame
        ws.close()

    try:
        run(scenario())
        history = client.get("/api/watchers/sleeper/stats").json()
        assert history["watcher"] and history["watcher"][-1][1:] == [12.5, 1.5]
        assert history["processes"][str(pid)][-1][1:] == [12.5, 1.5]
        assert client.get("/api/stats").json()["watchers"]["sleeper"]
        assert client.get("/api/status").json()["stats"]["connected"] is True
        listed = client.get("/api/watchers").json()["watchers"][0]
        assert (listed["cpu"], listed["mem"]) == (12.5, 1.5)
    finally:
        pub.close()
        context.term()


@pytest.mark.puts_back
def test_disconnected_then_recovered(daemon, httpd):
    """The module's circusd stopped and started again (its workers stay in the kernel and are
    adopted; the incr is taken back after): the module's circushttpd follows it."""
    client = httpd.client()

    async def scenario():
        ws = await WsClient.connect(client)
        await ws.wait_for(lambda m: m["type"] == "hello")
        daemon.stop()
        # a "connected" notice of the first connection may still be on its way: wait for the
        # one that says circusd went away
        down = await ws.wait_for(lambda m: m["type"] == "circusd" and not m["connected"])
        assert down["error"]
        resp = client.get("/api/watchers")
        assert resp.status == 503 and resp.error["code"] == "disconnected"
        status = client.get("/api/status").json()
        assert status["connected"] is False and status["error"]
        daemon.start()
        await ws.wait_for(lambda m: m["type"] == "circusd" and m["connected"] is True)
        assert client.get("/api/watchers").status == 200
        # events flow again after the reconnection
        assert client.post("/api/watchers/sleeper/incr").status == 200
        await ws.wait_for(lambda m: m["type"] == "event" and m["event"] == "spawn")
        ws.close()

    run(scenario())
