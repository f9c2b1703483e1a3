"""Output end to end: worker -> papa-kernel -> circusd -> FileStream, against ``worker > file``.

    .venv/bin/python bench/output.py                 # 256 MiB, 100 flooding workers (~2 min)
    .venv/bin/python bench/output.py --mib 1024      # the issue's 1 GiB
    .venv/bin/python bench/output.py --mib 64 --flooders 20 --calls 300

1. **throughput** (goal: ours >= 50% of raw). One worker writes ``--mib`` MiB of 64-byte
   lines (``yes LINE | head -c BYTES``, the same command both ways):
   - raw: ``sh -c "... > FILE"`` on the same disk, timed from launch to exit;
   - ours: a circusd watcher (``autostart = false``, ``respawn = false``) with
     ``stdout_stream.class = FileStream``; timed from the ``start`` command until the file
     holds every byte (its size polled every 5 ms). The bytes are checked to be the same.
   Best of ``--repeat`` rounds, raw and ours alternating; the median is printed too.
2. **control under flood** (goal: p99 < 5 ms). ``--flooders`` workers each run ``yes LINE``
   (as fast as the pipe takes it) into a FileStream on /dev/null (what is measured is the
   kernel and circusd, not the disk); after 2 s, ``--calls`` ``numwatchers`` round trips
   are timed, one client over ipc://, as bench/run.py's latency scenario.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(REPO))

from harness import procfs, report, scenarios  # noqa: E402
from harness.base import WATCHER, Installs  # noqa: E402
from harness.circus_systems import Ours  # noqa: E402

LINE = "x" * 63  # + newline: 64-byte lines


def writer(nbytes: int) -> str:
    """The shell command of the writing worker (``nbytes`` bytes of 64-byte lines)."""
    return f"yes {LINE} | head -c {nbytes}"


class OutputOurs(Ours):
    """Our circusd with one output watcher (not started until asked)."""

    def __init__(self, installs: Installs, workdir: Path, count: int, command: str,
                 filename: str, autostart: bool) -> None:  # fmt: skip
        super().__init__(installs, workdir, count)
        self.command = command
        self.filename = filename
        self.autostart = autostart

    def write_config(self) -> None:
        quoted = self.command.replace('"', '\\"')
        self.config_path.write_text(
            self.circus_section()
            + f"\n[watcher:{WATCHER}]\ncmd = /bin/sh\nargs = -c \"{quoted}\"\n"
            + f"numprocesses = {self.count}\nrespawn = false\n"
            + f"autostart = {'true' if self.autostart else 'false'}\n"
            + f"stdout_stream.class = FileStream\nstdout_stream.filename = {self.filename}\n"
        )


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def raw_round(workdir: Path, nbytes: int) -> float:
    target = workdir / "raw.out"
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(["/bin/sh", "-c", f"{writer(nbytes)} > {target}"], check=True)
    elapsed = time.perf_counter() - started
    if target.stat().st_size != nbytes:
        raise RuntimeError(f"raw wrote {target.stat().st_size} bytes, not {nbytes}")
    target.unlink()
    return elapsed


def ours_round(installs: Installs, workdir: Path, nbytes: int) -> float:
    target = workdir / "ours.out"
    target.unlink(missing_ok=True)
    system = OutputOurs(installs, workdir, 1, writer(nbytes), str(target), autostart=False)
    try:
        system.write_config()
        system.launch()
        system.wait_listed(0, time.perf_counter() + 60)  # answers: started, nothing spawned
        started = time.perf_counter()
        system.call("start", name=WATCHER, timeout=60)
        deadline = started + 600
        while not target.exists() or target.stat().st_size < nbytes:
            system.check_alive()
            if time.perf_counter() > deadline:
                raise RuntimeError(f"ours: {target.stat().st_size}/{nbytes} bytes after 600 s")
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
        if target.stat().st_size != nbytes:
            raise RuntimeError(f"ours wrote {target.stat().st_size} bytes, not {nbytes}")
        with open(target, "rb") as handle:  # the same bytes: lines intact, in order
            head = handle.read(1 << 20)
        if head != ((LINE + "\n").encode() * ((1 << 20) // 64))[: len(head)]:
            raise RuntimeError("ours: the file does not hold the worker's lines")
    finally:
        system.teardown()
        target.unlink(missing_ok=True)
    return elapsed


def flood(installs: Installs, workdir: Path, flooders: int, calls: int) -> list[float]:
    system = OutputOurs(installs, workdir, flooders, f"yes {LINE}", "/dev/null", autostart=True)
    try:
        system.write_config()
        system.launch()
        scenarios.wait_listed(system, flooders, time.perf_counter())
        time.sleep(2.0)  # the flood is on
        return scenarios.measure_latency(system, calls)
    finally:
        system.teardown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256, help="MiB the writing worker writes")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of raw and ours")
    parser.add_argument("--flooders", type=int, default=100, help="workers flooding output")
    parser.add_argument("--calls", type=int, default=1000, help="timed control calls")
    args = parser.parse_args(argv)
    installs = Installs.find(REPO)
    if reason := installs.missing("ours"):
        log(reason)
        return 2
    procfs.become_subreaper()
    procfs.raise_nofile_limit()
    nbytes = args.mib << 20
    load_before = report.load_average()
    raw: list[float] = []
    ours: list[float] = []
    with tempfile.TemporaryDirectory(prefix="circus-bench-out-") as tmp:
        try:
            for number in range(args.repeat):
                workdir = Path(tmp) / f"round{number}"
                workdir.mkdir()
                pairs = [("raw", raw), ("ours", ours)]
                for key, samples in pairs if number % 2 == 0 else pairs[::-1]:
                    if key == "raw":
                        samples.append(raw_round(workdir, nbytes))
                    else:
                        samples.append(ours_round(installs, workdir / "ours", nbytes))
                    log(f"{key:<4} {args.mib} MiB in {samples[-1]:.2f} s")
            latency = flood(installs, Path(tmp) / "flood", args.flooders, args.calls)
        finally:
            procfs.kill_and_reap_children()
    print(f"\nOutput end to end, {report.timestamp()}; load average before: {load_before}, "
          f"after: {report.load_average()}")  # fmt: skip
    systems = (("raw `worker > file`", raw), ("ours (kernel + circusd + FileStream)", ours))
    for name, samples in systems:
        best, median = min(samples), statistics.median(samples)
        print(f"- {name}: {args.mib} MiB best {best:.2f} s ({args.mib / best:.0f} MiB/s), "
              f"median {median:.2f} s ({args.mib / median:.0f} MiB/s)")  # fmt: skip
    ratio_best = min(raw) / min(ours)
    ratio_median = statistics.median(raw) / statistics.median(ours)
    print(f"- ours / raw throughput: {100 * ratio_best:.0f}% (best), {100 * ratio_median:.0f}% "
          f"(median); goal >= 50%: {'met' if ratio_best >= 0.5 else 'MISSED'}")  # fmt: skip
    p50, p99 = scenarios.percentile(latency, 0.5), scenarios.percentile(latency, 0.99)
    print(f"- control round trip while {args.flooders} workers flood output: p50 "
          f"{1000 * p50:.2f} ms, p99 {1000 * p99:.2f} ms; goal p99 < 5 ms: "
          f"{'met' if p99 < 0.005 else 'MISSED'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
