"""The blocking client's own cost per call: CircusClient.call against a bare DEALER round trip.

    .venv/bin/python bench/client_calls.py [--calls 3000] [--rounds 3]

A ROUTER in a child process answers every message at once, as circusd would (its ``id``, status
ok), so what is measured is the client side: this process' CPU (its ZeroMQ I/O thread included)
and wall time per call, back to back, the best of ``--rounds`` rounds. The difference between
the two lines is what the client adds to ZeroMQ: the JSON, the ipc check, the poller, the
socket monitor (circus.wire.diagnose; attached and detached at every call until it was kept
across calls that follow each other). Figures go to stdout as a Markdown table; compare CPU on
a loaded machine, not wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable

import zmq

from circus.client import CircusClient, make_message

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

MESSAGE = make_message("numwatchers")


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
    client = CircusClient(endpoint=endpoint)
    return (lambda: client.call(MESSAGE)), client.stop


def measure(make: Callable, endpoint: str, calls: int, rounds: int) -> tuple[float, float]:
    """Best CPU and best wall time per call (seconds) over ``rounds`` rounds of ``calls``."""
    call, close = make(endpoint)
    try:
        for _ in range(50):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        endpoint = f"ipc://{os.path.join(tmp, 'ctl.sock')}"
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, endpoint], stdout=subprocess.PIPE, text=True
        )
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            print("| client | CPU per call (µs) | wall per call (µs) |")
            print("|---|---|---|")
            for name, make in (("bare DEALER", bare), ("CircusClient", ours)):
                cpu, wall = measure(make, endpoint, args.calls, args.rounds)
                print(f"| {name} | {cpu * 1e6:.0f} | {wall * 1e6:.0f} |")
        finally:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
