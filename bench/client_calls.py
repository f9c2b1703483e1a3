"""The clients' own cost per call: CircusClient and AsyncCircusClient against a bare DEALER.

    .venv/bin/python bench/client_calls.py [--calls 3000] [--rounds 3]
    .venv/bin/python bench/client_calls.py --circusd          # against a real circusd
    .venv/bin/python bench/client_calls.py --circusd --ab OLD_SOURCES [--rounds 8]

By default a ROUTER in a child process answers every message at once, as circusd would (its
``id``, status ok); ``--circusd`` starts a real circusd (one watcher of ``sleep``) instead and
calls ``numwatchers``. What is measured is the client side: this process' CPU (its ZeroMQ I/O
thread included) and wall time per call, back to back, the best of ``--rounds`` rounds. The
difference between a client's line and the bare DEALER's is what the client adds to ZeroMQ:
the JSON, the ipc check, the poller or the event loop, the socket monitor (circus.wire.diagnose;
attached and detached at every call until it was kept across calls that follow each other:
the blocking client's first, then the asyncio client's). Figures go to stdout as a Markdown
table; compare CPU on a loaded machine, not wall time.

``--ab OLD_SOURCES`` compares two versions of the asyncio client: a directory holding another
``circus`` package (e.g. ``git archive main circus papa_kernel | tar -x -C /tmp/old``). Each
round runs one process per version (``PYTHONPATH``), alternating which goes first, each making
``--calls`` calls on one loop; the table gives the min and the median of the rounds' CPU per
call. The script is a child subreaper and ends every process it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import zmq

REPO = Path(__file__).resolve().parent.parent

SERVER = """
import json, sys, zmq
router = zmq.Context.instance().socket(zmq.ROUTER)
router.bind(sys.argv[1])
print("ready", flush=True)
while True:
    identity, data = router.recv_multipart()
    message = json.loads(data)
    reply = {"id": message["id"], "status": "ok", "numwatchers": 1}
    router.send_multipart([identity, json.dumps(reply).encode()])
"""

MESSAGE = {"command": "numwatchers", "properties": {}}
WARM_UP = 50


def bare(endpoint: str) -> tuple[Callable[[], object], Callable[[], None]]:
    """One call on a plain DEALER: encode, send, receive, decode."""
    socket = zmq.Context.instance().socket(zmq.DEALER)
    socket.linger = 0
    socket.connect(endpoint)

    def call() -> None:
        call_id = uuid.uuid4().hex
        socket.send(json.dumps(dict(MESSAGE, id=call_id)).encode())
        while json.loads(socket.recv()).get("id") != call_id:
            pass

    return call, socket.close


def ours(endpoint: str) -> tuple[Callable[[], object], Callable[[], None]]:
    from circus.client import CircusClient

    client = CircusClient(endpoint=endpoint)
    return (lambda: client.call(MESSAGE)), client.stop


def measure(make: Callable, endpoint: str, calls: int, rounds: int) -> tuple[float, float]:
    """Best CPU and best wall time per call (seconds) over ``rounds`` rounds of ``calls``."""
    call, close = make(endpoint)
    try:
        for _ in range(WARM_UP):
            call()
        cpu = wall = float("inf")
        for _ in range(rounds):
            started_cpu, started_wall = time.process_time(), time.perf_counter()
            for _ in range(calls):
                call()
            cpu = min(cpu, (time.process_time() - started_cpu) / calls)
            wall = min(wall, (time.perf_counter() - started_wall) / calls)
        return cpu, wall
    finally:
        close()


def measure_async(endpoint: str, calls: int, rounds: int) -> tuple[float, float]:
    """As :func:`measure`, for ``AsyncCircusClient.call`` awaited back to back on one loop."""
    from circus.client import AsyncCircusClient

    async def run() -> tuple[float, float]:
        async with AsyncCircusClient(endpoint=endpoint) as client:
            for _ in range(WARM_UP):
                await client.call(MESSAGE)
            cpu = wall = float("inf")
            for _ in range(rounds):
                started_cpu, started_wall = time.process_time(), time.perf_counter()
                for _ in range(calls):
                    await client.call(MESSAGE)
                cpu = min(cpu, (time.process_time() - started_cpu) / calls)
                wall = min(wall, (time.perf_counter() - started_wall) / calls)
            return cpu, wall

    return asyncio.run(run())


def ab(endpoint: str, old: str, calls: int, rounds: int) -> None:
    """Alternating rounds of the asyncio client, ``old``'s sources against this tree's."""
    versions = {"old": old, "new": str(REPO)}
    samples: dict[str, list[float]] = {name: [] for name in versions}
    for round_ in range(rounds):
        order = list(versions.items())
        if round_ % 2:
            order.reverse()
        for name, sources in order:
            out = subprocess.run(
                [sys.executable, __file__, "--child", endpoint, "--calls", str(calls)],
                env=dict(os.environ, PYTHONPATH=sources),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            samples[name].append(float(out.split()[0]))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"AsyncCircusClient, CPU per call (µs), {rounds} alternated rounds of {calls} calls")
    print(f"(load average after: {load})\n")
    print("| version | min | median |")
    print("|---|---|---|")
    for name, values in samples.items():
        print(f"| {name} | {min(values) * 1e6:.0f} | {statistics.median(values) * 1e6:.0f} |")


def table(endpoint: str, calls: int, rounds: int) -> None:
    print("| client | CPU per call (µs) | wall per call (µs) |")
    print("|---|---|---|")
    for name, make in (("bare DEALER", bare), ("CircusClient", ours)):
        cpu, wall = measure(make, endpoint, calls, rounds)
        print(f"| {name} | {cpu * 1e6:.0f} | {wall * 1e6:.0f} |")
    cpu, wall = measure_async(endpoint, calls, rounds)
    print(f"| AsyncCircusClient | {cpu * 1e6:.0f} | {wall * 1e6:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--circusd", action="store_true", help="against a real circusd")
    parser.add_argument("--ab", metavar="OLD_SOURCES", help="old asyncio client against this one")
    parser.add_argument("--child", metavar="ENDPOINT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one --ab process: its CPU per call (s), one round
        print(measure_async(args.child, args.calls, 1)[0])
        return
    sys.path.insert(0, str(REPO / "tests"))  # the integration tests' helpers
    from support import Circusd, subreaper

    with tempfile.TemporaryDirectory(prefix="circus-client-bench-") as tmp, subreaper():
        os.environ["XDG_RUNTIME_DIR"] = tmp
        server = daemon = None
        try:
            if args.circusd:
                daemon = Circusd(f"{tmp}/d", "[watcher:sleeper]\ncmd = sleep 100000\n")
                daemon.start()
                endpoint = daemon.endpoint
            else:
                endpoint = f"ipc://{os.path.join(tmp, 'ctl.sock')}"
                server = subprocess.Popen(
                    [sys.executable, "-c", SERVER, endpoint], stdout=subprocess.PIPE, text=True
                )
                assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            if args.ab:
                ab(endpoint, args.ab, args.calls, args.rounds)
            else:
                table(endpoint, args.calls, args.rounds)
        finally:
            if server is not None:
                server.kill()
                server.wait()
            if daemon is not None:
                daemon.cleanup()


if __name__ == "__main__":
    main()
