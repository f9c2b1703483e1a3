"""1000 hosted processes with output, 50 busy clients, one follow watcher (circusd's pattern)."""

from __future__ import annotations

import re

import pytest
from kernel_helpers import PROMPT, Gate

COUNT = 1000
CLIENTS = 50

pytestmark = pytest.mark.slow


def test_thousand_processes_fifty_clients(kernel, kdir):
    # Each process prints its line, then waits on a gate never opened, until the signal below:
    # one sh per process (`exec sleep 60` cost a second exec, ~0.9 ms of CPU each, ~1 s of 3)
    wait = Gate(kdir, "never-opened").wait
    watcher = kernel.client(timeout=30)
    assert watcher.watch("w p follow=1 dropped=1 scale.*") == "Watching 0"
    spawner = kernel.client(timeout=30)
    lines = "".join(
        rf"make process scale.{index} sh -c echo\ line-{index};\ {wait}" + "\n"
        for index in range(COUNT)
    )
    spawner.send(lines)  # pipelined, as circusd does: replies come back in order
    busy = [kernel.client(timeout=30) for _ in range(CLIENTS)]
    for index, client in enumerate(busy):
        client.send(f"set v{index} {index}\nlist processes scale.{index}*\nversion\nget v{index}\n")
    for index in range(COUNT):
        reply = spawner.read_until(PROMPT).decode()
        assert re.match(rf"scale\.{index} pid=\d+ running=", reply), reply
    for index, client in enumerate(busy):
        assert client.read_until(PROMPT) == PROMPT
        assert client.read_until(PROMPT).startswith(f"scale.{index}".encode())
        assert client.read_until(PROMPT).startswith(b"papa-kernel")
        assert client.read_until(PROMPT) == f"{index}".encode() + PROMPT
    seen: dict[str, bytes] = {}
    while len(seen) < COUNT:
        records = watcher.batch()
        assert isinstance(records, list), records
        for kind, name, _ts, *rest in records:
            assert kind == "out", (kind, name, rest)
            seen[name] = seen.get(name, b"") + rest[0]
        watcher.ack()
    assert all(seen[f"scale.{i}"] == f"line-{i}\n".encode() for i in range(COUNT))
    listing = busy[0].cmd("list processes scale.*").splitlines()
    assert len(listing) == COUNT and all("running=True" in line for line in listing)
    signalled = spawner.cmd("signal TERM scale.*").splitlines()
    assert len(signalled) == COUNT
    exits: dict[str, int] = {}
    while len(exits) < COUNT:
        records = watcher.batch()
        assert isinstance(records, list), records
        exits.update((name, int(rest[0])) for kind, name, _ts, *rest in records if kind == "closed")
        watcher.ack()
    assert set(exits.values()) == {-15}
    assert busy[1].cmd("list processes scale.*") == ""  # collected by the acknowledgements
