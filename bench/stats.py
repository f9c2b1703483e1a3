"""CPU used by circusd-stats with many workers: ours and the original circus 0.19.0, one run.

    .venv/bin/python bench/stats.py                  # 1000 workers (10 watchers x 100)
    .venv/bin/python bench/stats.py --workers 200 --seconds 10

One circusd (ours) runs ``--workers`` ``sleep`` processes in 10 watchers. Against it, one after
the other, for ``--seconds`` each after a warm-up:

- ours, with a subscriber reading every message (what circus-top or the web console does);
- ours, with nobody subscribed (its usual state: nothing is sampled);
- the original circusd-stats (``.venv-circus019``, skipped when missing), with a subscriber
  and without.
  It reads the same circusd (list, dstats and the events are wire-compatible); no socket is
  configured, since the original can only watch sockets it inherited.

The figure is the CPU time of the circusd-stats process (user + system of all its threads, from
/proc/PID/task/*/schedstat) divided by the wall time of the window, as a percentage of one core:
a loaded machine makes the window's wall time no longer, only the CPU time counts. The
subscriber counts the messages it got, to show each one published every process every second.

The script is a child subreaper and ends every process it started.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ORIGINAL = REPO / ".venv-circus019" / "bin" / "python"
sys.path.insert(0, str(REPO / "tests"))  # the integration tests' helpers
sys.path.insert(0, str(REPO / "bench"))

import zmq  # noqa: E402
from harness.procfs import cpu_seconds, raise_nofile_limit  # noqa: E402
from support import Circusd, subreaper, wait_for  # noqa: E402

WATCHERS = 10
WARMUP = 4.0  # seconds: bootstrap listing, first samples, subscriber connected


class Subscriber(threading.Thread):
    """Counts stat messages on an endpoint until stopped."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(daemon=True)
        self.endpoint = endpoint
        self.count = 0
        self.running = True

    def run(self) -> None:
        context = zmq.Context()
        sock = context.socket(zmq.SUB)
        sock.setsockopt(zmq.SUBSCRIBE, b"stat.")
        sock.setsockopt(zmq.RCVHWM, 100000)
        sock.connect(self.endpoint)
        while self.running:
            if sock.poll(200):
                sock.recv_multipart()
                self.count += 1
        sock.close(linger=0)
        context.term()


def config(workers: int) -> str:
    per = workers // WATCHERS
    return "".join(
        f"[watcher:w{i}]\ncmd = sleep 100000\nnumprocesses = {per}\n\n" for i in range(WATCHERS)
    )


def measure(
    argv: list[str], endpoint: str, subscribe: bool, seconds: float, cwd: str
) -> tuple[float, float]:
    """(% of one core, messages per second) of one circusd-stats over ``seconds``. ``cwd``
    is not the repository: ``python -c`` puts it first on sys.path, and there our ``circus``
    package would shadow the original's."""
    sub = Subscriber(endpoint) if subscribe else None
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(
            argv, stdout=devnull, stderr=devnull, start_new_session=True, cwd=cwd
        )
    try:
        if sub is not None:
            sub.start()
        time.sleep(WARMUP)
        if proc.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited with {proc.returncode}")
        cpu0, wall0, count0 = cpu_seconds(proc.pid), time.monotonic(), sub.count if sub else 0
        time.sleep(seconds)
        cpu1, wall1, count1 = cpu_seconds(proc.pid), time.monotonic(), sub.count if sub else 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if sub is not None:
            sub.running = False
            sub.join(timeout=5)
    wall = wall1 - wall0
    return 100 * (cpu1 - cpu0) / wall, (count1 - count0) / wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    raise_nofile_limit()
    rows = []
    with tempfile.TemporaryDirectory(prefix="circus-stats-bench-") as tmp, subreaper():
        os.environ["XDG_RUNTIME_DIR"] = tmp
        daemon = Circusd(f"{tmp}/d", config(args.workers))
        try:
            daemon.start()
            wait_for(
                lambda: sum(len(daemon.pids(f"w{i}")) for i in range(WATCHERS)) >= args.workers,
                timeout=300,
                message=f"{args.workers} workers",
            )
            stats = f"ipc://{tmp}/stats.sock"
            common = ["--endpoint", daemon.endpoint, "--pubsub", daemon.pubsub]
            ours = [sys.executable, "-m", "circus.cli.circusd_stats", *common]
            ours += ["--statspoint", stats, "--log-level", "warning"]
            runs = [("ours, one subscriber", ours, True), ("ours, no subscriber", ours, False)]
            if ORIGINAL.exists():
                original = [str(ORIGINAL), "-c", "from circus import stats; stats.main()"]
                original += [*common, "--statspoint", stats, "--log-level", "warning"]
                runs.append(("circus 0.19, one subscriber", original, True))
                runs.append(("circus 0.19, no subscriber", original, False))
            for label, argv, subscribe in runs:
                cpu, rate = measure(argv, stats, subscribe, args.seconds, tmp)
                print(f"{label}: {cpu:.2f}% of a core, {rate:.0f} msg/s", file=sys.stderr)
                rows.append((label, cpu, rate))
        finally:
            daemon.cleanup()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{args.workers} workers, {args.seconds:.0f} s per run, CPU time of circusd-stats")
    print(f"(load average after: {load}):\n")
    print("| circusd-stats | CPU (% of one core) | messages/s received |")
    print("|---|---|---|")
    for label, cpu, rate in rows:
        print(f"| {label} | {cpu:.2f} | {rate:.0f} |" if rate else f"| {label} | {cpu:.2f} | - |")
    if len(rows) == 4 and rows[0][1] > 0:
        ratio = rows[2][1] / rows[0][1]
        print(f"\nwith a subscriber, the original uses {ratio:.1f}x the CPU of ours")
    return 0


if __name__ == "__main__":
    sys.exit(main())
