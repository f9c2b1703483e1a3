"""CPU of the command-line tools, ours and the original circus 0.19.0's, one run.

    .venv/bin/python bench/tools.py                  # 5 rounds of 5 runs per tool and system
    .venv/bin/python bench/tools.py --rounds 3 --runs 9

One circusd (ours, one watcher of ``sleep``) runs in a private directory. Against it, each tool
of each system (ours: ``.venv``'s console scripts, our sources byte-compiled first as an install
would; the original's: ``.venv-circus019``'s, skipped when missing) runs as a user or circusd
would run it:

- ``circusctl --help``, ``circusctl list`` (a call answered by circusd), ``circusctl status``;
- ``circus-plugin circus.plugins.statsd.StatsdEmitter`` (connected to circusd), ended by SIGTERM
  after ``--seconds`` (a plugin costs its start-up, then what it does while it runs);
- ``circusd-stats`` (its default interval, 1 s), ended by SIGTERM after ``--seconds``.

The figure is the CPU (user + system) of the tool's process, from ``wait4``: wall time would
measure the machine's load. Rounds alternate the systems (ours first in even rounds), so a
change of the host's speed during the run hits both; the table shows the min and the median of
all runs. The script is a child subreaper and ends every process it started.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OURS = Path(sys.executable).parent
ORIGINAL = REPO / ".venv-circus019" / "bin"
sys.path.insert(0, str(REPO / "tests"))  # the integration tests' helpers
sys.path.insert(0, str(REPO / "bench"))

from run import compile_sources  # noqa: E402
from support import Circusd, subreaper  # noqa: E402

PLUGIN = "circus.plugins.statsd.StatsdEmitter"  # in both systems


def cpu_ms(argv: list[str], cwd: str, seconds: float | None) -> float:
    """CPU of one run of ``argv`` (ms); SIGTERMed after ``seconds`` if given."""
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(argv, stdout=devnull, stderr=devnull, cwd=cwd)
    if seconds is not None:
        time.sleep(seconds)
        proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, -signal.SIGTERM):
        raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}")
    return (usage.ru_utime + usage.ru_stime) * 1000


def scenarios(
    bin_dir: Path, daemon: Circusd, stats: str, seconds: float
) -> list[tuple[str, list[str], float | None]]:
    """(label, argv, seconds before SIGTERM) of each tool of the system in ``bin_dir``."""
    python = str(bin_dir / "python")
    ctl = [python, str(bin_dir / "circusctl"), "--endpoint", daemon.endpoint]
    common = ["--endpoint", daemon.endpoint, "--pubsub", daemon.pubsub]
    return [
        ("circusctl --help", [python, str(bin_dir / "circusctl"), "--help"], None),
        ("circusctl list", [*ctl, "list"], None),
        ("circusctl status", [*ctl, "status"], None),
        (
            f"circus-plugin (statsd), {seconds:g} s",
            [python, str(bin_dir / "circus-plugin"), *common, "--log-level", "warning", PLUGIN],
            seconds,
        ),
        (
            f"circusd-stats, {seconds:g} s",
            [
                python,
                str(bin_dir / "circusd-stats"),
                *common,
                "--statspoint",
                stats,
                "--log-level",
                "warning",
            ],
            seconds,
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5, help="runs per tool, system and round")
    parser.add_argument("--seconds", type=float, default=1.5, help="life of plugin and stats")
    args = parser.parse_args()
    compile_sources(REPO)  # as installed: the original has its .pyc files
    systems = {"ours": OURS}
    if (ORIGINAL / "python").exists():
        systems["circus 0.19"] = ORIGINAL
    samples: dict[tuple[str, str], list[float]] = {}
    labels: list[str] = []
    with tempfile.TemporaryDirectory(prefix="circus-tools-bench-") as tmp, subreaper():
        os.environ["XDG_RUNTIME_DIR"] = tmp
        daemon = Circusd(f"{tmp}/d", "[watcher:sleeper]\ncmd = sleep 100000\n")
        try:
            daemon.start()
            stats = f"ipc://{tmp}/stats.sock"
            for round_ in range(args.rounds):
                order = list(systems.items())
                if round_ % 2:
                    order.reverse()
                for system, bin_dir in order:
                    for label, argv, seconds in scenarios(bin_dir, daemon, stats, args.seconds):
                        if label not in labels:
                            labels.append(label)
                        runs = args.runs if seconds is None else max(1, args.runs // 2)
                        for _ in range(runs):
                            value = cpu_ms(argv, tmp, seconds)
                            samples.setdefault((label, system), []).append(value)
                print(f"round {round_ + 1} of {args.rounds} done", file=sys.stderr)
        finally:
            daemon.cleanup()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nCPU of one run (user + system, ms), {args.rounds} alternated rounds", end="")
    print(f"; load average after: {load}\n")
    names = list(systems)
    print(
        "| tool | "
        + " | ".join(f"{name}: min / median" for name in names)
        + " | ratio of medians |"
    )
    print("|---|" + "---|" * len(names) + "---|")
    for label in labels:
        cells, medians = [], []
        for name in names:
            values = samples[(label, name)]
            medians.append(statistics.median(values))
            cells.append(f"{min(values):.0f} / {medians[-1]:.0f}")
        ratio = f"{medians[1] / medians[0]:.1f}x" if len(medians) == 2 and medians[0] else "-"
        print(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
