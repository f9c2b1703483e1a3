"""circusd memory per additional worker: RSS and a tracemalloc diff from FROM to TO workers.

    .venv/bin/python bench/memory.py                    # 1000 -> 10000 workers (~2 minutes)
    .venv/bin/python bench/memory.py --from 200 --to 2000 --top 15

Two launches of our circusd (on its own papa-kernel) with one ``sleep`` watcher of FROM workers,
scaled to TO with ``incr`` once all FROM are listed:

1. plain: VmRSS of circusd and papa-kernel at FROM and at TO (RSS grows in pages and arenas,
   so a per-worker figure needs a few thousand workers);
2. traced: circusd runs under ``tracemalloc`` (which inflates RSS, hence the first run); a
   snapshot is taken at FROM and at TO (SIGUSR1, handled by the bench's wrapper, not by
   circusd) and the difference is printed per worker, by source line: what grows with the
   number of workers.

Goal (issue 13): below 1 KB of circusd memory per additional worker.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(REPO))

from harness import procfs, report, scenarios  # noqa: E402
from harness.base import WATCHER, Installs  # noqa: E402
from harness.circus_systems import Ours  # noqa: E402

#: Run by the traced circusd's interpreter: tracemalloc from the first line, a snapshot to
#: SNAPSHOT.N on each SIGUSR1 (a bench-only handler: it does the dump itself).
WRAPPER = """
import signal, sys, tracemalloc
tracemalloc.start(int(sys.argv[1]))
target, dumps = sys.argv[2], [0]
def dump(signum, frame):
    dumps[0] += 1
    tracemalloc.take_snapshot().dump(f"{target}.{dumps[0]}")
    open(f"{target}.{dumps[0]}.done", "w").close()
signal.signal(signal.SIGUSR1, dump)
from circus.cli.circusd import main
sys.exit(main(sys.argv[3:]))
"""


DOCS_BEGIN = "<!-- scale-memory:begin -->"  # --docs: the figures go in between
DOCS_END = "<!-- scale-memory:end -->"


class TracedOurs(Ours):
    """Our circusd started through :data:`WRAPPER` (tracemalloc on)."""

    depth = 1

    def argv(self) -> list[str]:
        inner = super().argv()
        config_and_options = inner[inner.index(str(self.config_path)) :]
        wrapper = self.workdir / "traced.py"
        wrapper.write_text(WRAPPER)
        python = str(self.installs.ours_bin / "python")
        return [python, str(wrapper), str(self.depth), str(self.snapshot_base), *config_and_options]

    @property
    def snapshot_base(self) -> Path:
        return self.workdir / "snapshot"

    def snapshot(self, number: int) -> tracemalloc.Snapshot:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGUSR1)
        done = Path(f"{self.snapshot_base}.{number}.done")
        deadline = time.monotonic() + 120
        while not done.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("no tracemalloc snapshot within 120 s")
            time.sleep(0.05)
        return tracemalloc.Snapshot.load(f"{self.snapshot_base}.{number}")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def scale(system: Ours, start: int, to: int) -> None:
    """Start with ``start`` workers, wait until listed, then ``incr`` to ``to``."""
    scenarios.measure_start(system, start)
    scenarios.wait_listed(system, start, time.perf_counter())
    time.sleep(1.0)


def grow(system: Ours, start: int, to: int) -> None:
    system.call("incr", name=WATCHER, nb=to - start, timeout=300)
    scenarios.wait_listed(system, to, time.perf_counter(), timeout=600)
    time.sleep(1.0)


def rss_run(installs: Installs, base: Path, start: int, to: int) -> dict[str, int]:
    system = Ours(installs, base / "plain", to)
    system.count = start
    try:
        scale(system, start, to)
        pids = system.daemon_pids()
        before = [procfs.rss_bytes(pid) for pid in pids]
        grow(system, start, to)
        after = [procfs.rss_bytes(pid) for pid in pids]
    finally:
        system.teardown()
    return {"circusd_from": before[0], "circusd_to": after[0],
            "kernel_from": before[1], "kernel_to": after[1]}  # fmt: skip


def traced_run(installs: Installs, base: Path, start: int, to: int, top: int) -> list[str]:
    system = TracedOurs(installs, base / "traced", to)
    system.count = start
    try:
        scale(system, start, to)
        first = system.snapshot(1)
        grow(system, start, to)
        second = system.snapshot(2)
    finally:
        system.teardown()
    keep = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = second.filter_traces(keep).compare_to(first.filter_traces(keep), "lineno")
    added = to - start
    total = sum(stat.size_diff for stat in diff)
    lines = [f"tracemalloc: circusd grew {total / 1e6:.2f} MB for {added} workers = "
             f"{total / added:.0f} bytes per worker; largest sources:"]  # fmt: skip
    for stat in diff[:top]:
        frame = stat.traceback[0]
        where = (
            os.path.relpath(frame.filename, REPO) if str(REPO) in frame.filename else frame.filename
        )
        lines.append(f"  {stat.size_diff / added:8.0f} B/worker  {stat.count_diff / added:6.2f} "
                     f"blocks/worker  {where}:{frame.lineno}")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="start", type=int, default=1000)
    parser.add_argument("--to", type=int, default=10000)
    parser.add_argument("--top", type=int, default=12, help="sources to list")
    parser.add_argument("--no-trace", action="store_true", help="only the RSS run")
    parser.add_argument("--docs", type=Path, metavar="FILE",
                        help="also write the figures into this Markdown file "
                             "(docs/benchmarks.md), between its scale-memory markers")  # fmt: skip
    args = parser.parse_args(argv)
    if not 0 < args.start < args.to:
        parser.error("--from must be positive and below --to")
    installs = Installs.find(REPO)
    if reason := installs.missing("ours"):
        log(reason)
        return 2
    procfs.become_subreaper()
    procfs.raise_nofile_limit()
    load_before = report.load_average()
    with tempfile.TemporaryDirectory(prefix="circus-bench-mem-") as tmp:
        try:
            rss = rss_run(installs, Path(tmp), args.start, args.to)
            traced = (
                []
                if args.no_trace
                else traced_run(installs, Path(tmp), args.start, args.to, args.top)
            )
        finally:
            procfs.kill_and_reap_children()
    added = args.to - args.start
    lines = [f"circusd memory per worker, {report.timestamp()}; load average before: "
             f"{load_before}, after: {report.load_average()}"]  # fmt: skip
    for name in ("circusd", "kernel"):
        grew = rss[f"{name}_to"] - rss[f"{name}_from"]
        lines.append(f"RSS {name}: {rss[f'{name}_from'] / 1e6:.1f} MB at {args.start} workers, "
                     f"{rss[f'{name}_to'] / 1e6:.1f} MB at {args.to}: {grew / added:.0f} bytes "
                     "per additional worker")  # fmt: skip
    lines += traced
    print("\n" + "\n".join(lines))
    if args.docs:
        command = " ".join(argv if argv is not None else sys.argv[1:])
        text = f"`bench/memory.py {command}`; {report.machine_description()}\n\n```\n"
        report.write_section(args.docs, DOCS_BEGIN, DOCS_END,
                             "## 10,000 workers: memory per worker, latest run",
                             text + "\n".join(lines) + "\n```\n")  # fmt: skip
        log(f"figures written to {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
