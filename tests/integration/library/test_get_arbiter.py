"""The library API of the manual: get_arbiter(), start(), stop()."""

import asyncio
import sys
import threading

import pytest
from support import pid_alive, wait_for

from circus import get_arbiter
from circus.client import AsyncCircusClient

pytestmark = pytest.mark.timeout(60)
SLEEP = f"{sys.executable} -c 'import time; time.sleep(3600)'"


def endpoints(tmp_path) -> dict:
    return {
        "controller": f"ipc://{tmp_path}/ctl.sock",
        "pubsub_endpoint": f"ipc://{tmp_path}/pub.sock",
    }


def test_blocking_start_and_stop_from_another_thread(tmp_path):
    arbiter = get_arbiter([{"name": "lib", "cmd": SLEEP, "numprocesses": 3}], **endpoints(tmp_path))
    runner = threading.Thread(target=arbiter.start, daemon=True)
    runner.start()
    watcher = wait_for(lambda: arbiter._watchers.get("lib"), message="watcher created")
    pids = wait_for(lambda: len(watcher.pids()) == 3 and watcher.pids(), message="3 workers")
    arbiter.stop()
    runner.join(timeout=30)
    assert not runner.is_alive()
    assert not any(pid_alive(pid) for pid in pids)


def test_await_start_inside_an_application_loop(tmp_path):
    async def main():
        arbiter = get_arbiter(
            [{"name": "app", "cmd": SLEEP, "numprocesses": 2}], **endpoints(tmp_path)
        )
        await arbiter.start()
        client = AsyncCircusClient(endpoint=f"ipc://{tmp_path}/ctl.sock")
        try:
            reply = await client.call({"command": "list", "properties": {"name": "app"}})
        finally:
            client.stop()
        pids = [int(p) for p in reply["pids"]]
        assert len(pids) == 2 and all(pid_alive(p) for p in pids)
        await arbiter.stop()
        return pids

    pids = asyncio.run(main())
    assert not any(pid_alive(pid) for pid in pids)
