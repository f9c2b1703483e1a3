"""Losing papa-kernel under HTTP load: failed requests and time until the service is back.

    .venv/bin/python bench/kernel_loss.py [--trials 5] [--clients 4] [--workers 2] [--interval 0]

A circusd serves ``[socket:web]`` (127.0.0.1, a free port) with ``use_sockets`` workers
(tests/integration/circusd/worker.py) of two kinds: ``devnull`` (``http``, output to
/dev/null) and ``logging`` (``http-logging``: a threaded http.server logging each request to
stderr through the kernel, like the demo; once the kernel is dead its orphans fail every
request). ``--clients`` threads send HTTP requests back to back (or ``--interval`` seconds
apart). Two scenarios, each
``--trials`` times per kind of worker on a fresh circusd:

- **kernel**: ``kill -9`` of papa-kernel. Measured from the kill: the failed requests, the
  time to the first failure (until then the orphans served), to the last failure (from then
  on nothing failed) and to the first answer by a new worker.
- **both**: ``kill -9`` of circusd and then of the kernel; the orphans keep serving, known to
  nobody; a new circusd is started. Measured from that start: the same figures.

The script is a child subreaper and ends every process it started (see bench/run.py).
Figures go to stdout as a Markdown table: median / worst of the trials.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the integration tests' helpers: circusd, load

from support import Circusd, Load, free_port, http_web_config, subreaper, wait_for  # noqa: E402


def trial(
    workdir: str, scenario: str, clients: int, workers: int, logging: bool, interval: float
) -> dict[str, float]:
    port = free_port()
    daemon = Circusd(workdir, http_web_config(port, workers, logging=logging))
    loads = [Load(port, interval) for _ in range(clients)]
    try:
        daemon.start()
        old = set(daemon.pids("web"))
        kernel = daemon.kernel_pid()
        for load in loads:
            load.start()
        wait_for(lambda: sum(load.ok for load in loads) > 50, message="load running")
        if scenario == "kernel":
            since = time.monotonic()
            os.kill(kernel, signal.SIGKILL)
        else:
            daemon.kill9()
            os.kill(kernel, signal.SIGKILL)
            time.sleep(0.5)  # the orphans serve, known to nobody
            since = time.monotonic()
            daemon.start(wait=False)
        wait_for(
            lambda: any(set(load.first_ok) - old for load in loads),
            timeout=30,
            message="an answer from a new worker",
        )
        time.sleep(1.0)  # keep the load on after the recovery
    finally:
        for load in loads:
            load.stop()
        daemon.cleanup()
    failures = [t for load in loads for t in load.failure_times if t >= since]
    first_new = min(t for load in loads for pid, t in load.first_ok.items() if pid not in old)
    return {
        "failed": len(failures),
        "answered": sum(load.ok for load in loads),
        "orphans_until": min(failures, default=since) - since,
        "outage": max(failures, default=since) - since,
        "first_new": first_new - since,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between requests")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="circus-kernel-loss-") as tmp, subreaper():
        os.environ["XDG_RUNTIME_DIR"] = tmp
        for kind in ("devnull", "logging"):
            for scenario in ("kernel", "both"):
                results = []
                for i in range(args.trials):
                    result = trial(
                        f"{tmp}/{kind}-{scenario}{i}",
                        scenario,
                        args.clients,
                        args.workers,
                        logging=kind == "logging",
                        interval=args.interval,
                    )
                    print(f"{kind} {scenario} #{i}: {result}", file=sys.stderr, flush=True)
                    results.append(result)
                rows.append((f"{scenario}, {kind}", results))
    print(
        "| scenario, workers | failed requests | first failure s | last failure s "
        "| first answer by a new worker s |"
    )
    print("|---|---|---|---|---|")
    for scenario, results in rows:
        cells = []
        for key, fmt in (
            ("failed", "{:.0f}"),
            ("orphans_until", "{:.3f}"),
            ("outage", "{:.3f}"),
            ("first_new", "{:.3f}"),
        ):
            values = [r[key] for r in results]
            cells.append(f"{fmt.format(statistics.median(values))} / {fmt.format(max(values))}")
        print(f"| {scenario} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
