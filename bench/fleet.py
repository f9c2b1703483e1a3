"""``status`` on 3 circusds against 1, each circusd in its own network namespace (issue 14).

    .venv/bin/python bench/fleet.py              # as root: 100/200/20 runs of each kind
    .venv/bin/python bench/fleet.py --runs 30    # scale every count

Three circusds (each with its kernel and 2 sleep workers) run in network namespaces joined to
this one by veth pairs (tests/netns.py, tests/fleet_cluster.py), on CURVE-protected tcp
endpoints, reached the way an operator reaches three machines. Runs of 1 host and 3 hosts are
interleaved (so load changes hit both), and medians are printed:

- ``fan_out``: :func:`circus.client.fan_out`, new connections (and CURVE handshakes) each run;
- ``in a row``: the same three calls one after the other (``Fleet.call_serial``), what the
  concurrency saves;
- ``kept Fleet``: one :class:`circus.client.Fleet` whose connections are reused;
- ``circusctl``: a ``circusctl --hosts FILE status`` process (Python start-up included).

Concurrency: for 3 hosts, the sum of the hosts' own call times divided by the wall time of the
run (3.0 would be perfect overlap, 1.0 none). Needs root (namespaces); cleans up everything.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import fleet_cluster  # noqa: E402
import netns  # noqa: E402
import support  # noqa: E402

from circus.cli.hosts_file import load_hosts  # noqa: E402
from circus.client import Fleet, fan_out, make_message  # noqa: E402

STATUS = make_message("status")
CONFIG = f"""
    [watcher:web]
    cmd = {sys.executable} {support.CIRCUSD_WORKER} sleep
    numprocesses = 2
    """


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms"


async def _fresh(hosts) -> tuple[float, float]:
    started = time.perf_counter()
    results = await fan_out(hosts, STATUS, timeout=10)
    wall = time.perf_counter() - started
    assert all(r.ok for r in results), results
    return wall, sum(r.seconds for r in results)


async def _in_a_row(hosts) -> float:
    started = time.perf_counter()
    async with Fleet(hosts, 10) as fleet:
        results = await fleet.call_serial(STATUS)
    assert len(results) == len(hosts) and all(r.ok for r in results), results
    return time.perf_counter() - started


async def _kept(one, three, runs: int) -> tuple[list[float], list[float]]:
    walls: tuple[list[float], list[float]] = ([], [])
    async with Fleet(one, 10) as f1, Fleet(three, 10) as f3:
        await f1.call(STATUS)  # connect first: measure the calls, not the handshakes
        await f3.call(STATUS)
        for _ in range(runs):
            for fleet, into in ((f1, walls[0]), (f3, walls[1])):
                started = time.perf_counter()
                results = await fleet.call(STATUS)
                into.append(time.perf_counter() - started)
                assert all(r.ok for r in results), results
    return walls


def _circusctl(hosts_file: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "circus.cli.circusctl", "--hosts", str(hosts_file), "status"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return time.perf_counter() - started


def measure(cluster: fleet_cluster.Cluster, runs: int) -> list[tuple[str, str, str]]:
    one_file = cluster.hosts_file.with_name("one.ini")
    one_file.write_text(cluster.hosts_text([0]))
    one, three = load_hosts(str(one_file)), load_hosts(str(cluster.hosts_file))
    fresh: tuple[list[float], list[float]] = ([], [])
    row: list[float] = []
    concurrency: list[float] = []
    for _ in range(runs):
        fresh[0].append(asyncio.run(_fresh(one))[0])
        wall, busy = asyncio.run(_fresh(three))
        fresh[1].append(wall)
        concurrency.append(busy / wall)
        row.append(asyncio.run(_in_a_row(three)))
    kept = asyncio.run(_kept(one, three, runs * 2))
    ctl: tuple[list[float], list[float]] = ([], [])
    for _ in range(max(5, runs // 5)):
        ctl[0].append(_circusctl(one_file))
        ctl[1].append(_circusctl(cluster.hosts_file))
    return [
        (f"fan_out, new connections ({runs} runs)", _ms(fresh[0]), _ms(fresh[1])),
        (f"the 3 calls in a row, new connections ({runs} runs)", "", _ms(row)),
        (f"kept Fleet ({runs * 2} runs)", _ms(kept[0]), _ms(kept[1])),
        (f"circusctl --hosts process ({len(ctl[0])} runs)", _ms(ctl[0]), _ms(ctl[1])),
        (
            "fan_out concurrency (sum of host times / wall)",
            "",
            f"{statistics.median(concurrency):.2f}",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="fan_out runs of each kind")
    args = parser.parse_args()
    reason = netns.unavailable()
    if reason is not None:
        print(f"bench/fleet.py: {reason}", file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, fleet_cluster.running(Path(tmp), CONFIG) as cluster:
        rows = measure(cluster, args.runs)
    print(f"status over 1 vs 3 circusds in network namespaces (load {load:.1f} at start, "
          f"{os.cpu_count()} cores), medians:\n")  # fmt: skip
    print("| | 1 host | 3 hosts |\n|---|---|---|")
    for label, single, fleet in rows:
        print(f"| {label} | {single} | {fleet} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
