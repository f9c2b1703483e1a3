"""What circusd's own work costs per worker as the count doubles: finds what is quadratic.

    .venv/bin/python bench/scaling.py                     # 1250, 2500, 5000, 10000 workers
    .venv/bin/python bench/scaling.py --sizes 1000,2000

The real Arbiter and Watcher run in-process on the in-memory :class:`circus.testing.FakeHost`
(no processes, no kernel, no sockets), so the figures are circusd's CPU alone, measured with
``time.process_time()`` (CPU time of this process: the machine's load inflates it much less
than wall-clock time). Per size: start N workers, ``list`` and ``status`` (the command
implementations, as the control channel calls them), 20 respawns after an exit, a ``stop``,
and the start-up of a new arbiter whose host already runs N workers (reattach: adoption).
Each figure is also printed per worker; a per-worker cost that doubles when N doubles is
quadratic.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from circus.control.commands import get_commands  # noqa: E402
from circus.testing import FakeHost, arbiter_on, settle, start_arbiter  # noqa: E402

RESPAWNS = 20


async def cpu_of(operation) -> float:
    started = time.process_time()
    await operation()
    return time.process_time() - started


async def measure(count: int) -> dict[str, float]:
    host = FakeHost()
    config = {"max_processes": count, "watchers": [{"name": "w", "cmd": "prog"}]}
    config["watchers"][0]["numprocesses"] = count
    arbiter = arbiter_on(host, config)
    commands = get_commands()
    figures: dict[str, float] = {}

    async def start() -> None:
        await start_arbiter(arbiter)
        await settle()

    figures["start"] = await cpu_of(start)
    watcher = arbiter.get_watcher("w")
    assert len(watcher.pids()) == count, (len(watcher.pids()), count)

    async def command(command_name: str, **props) -> None:
        result = commands[command_name].execute(arbiter, props)
        if asyncio.iscoroutine(result):
            await result

    figures["list"] = await cpu_of(lambda: command("list", name="w"))
    figures["status"] = await cpu_of(lambda: command("status"))

    async def respawns() -> None:
        for pid in watcher.pids()[:RESPAWNS]:
            host.exit(pid, -9)
            await settle()

    figures["respawn"] = await cpu_of(respawns) / RESPAWNS
    assert len(watcher.pids()) == count
    figures["stop"] = await cpu_of(watcher.stop)
    await arbiter.quit(stop_workers=True)
    figures["reattach"] = await reattach(count, config)
    return figures


async def reattach(count: int, config: dict) -> float:
    """CPU of a new arbiter's start-up when its host already runs ``count`` workers of the
    watcher (a restarted circusd adopting them)."""
    host = FakeHost()
    for wid in range(1, count + 1):
        host.add_process(f"circus.w.{wid}", age=10)
    arbiter = arbiter_on(host, config)

    async def start() -> None:
        await start_arbiter(arbiter)
        await settle()

    spent = await cpu_of(start)
    adopted = arbiter.get_watcher("w").pids()
    assert len(adopted) == count and not host.ops("spawn"), (len(adopted), count)
    await arbiter.quit(stop_workers=True)
    return spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1250,2500,5000,10000")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size]
    print(f"| operation | {' | '.join(str(s) for s in sizes)} | CPU per worker at each size |")
    print("|---|" + "---|" * (len(sizes) + 1))
    results = {size: asyncio.run(measure(size)) for size in sizes}
    for name in ("start", "list", "status", "respawn", "stop", "reattach"):
        cells = [f"{results[s][name] * 1000:.1f} ms" for s in sizes]
        per = [f"{results[s][name] / s * 1e6:.1f}" for s in sizes]
        unit = "us (one respawn)" if name == "respawn" else "us"
        print(f"| {name} | {' | '.join(cells)} | {' / '.join(per)} {unit} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
