"""Side-by-side benchmarks: our circusd (on papa-kernel), the original circus 0.19.0,
supervisor 4.3.0 and a raw ``os.posix_spawn`` baseline, measured in one run.

    .venv/bin/python bench/run.py            # full run (about 5 minutes)
    .venv/bin/python bench/run.py --quick    # small run (about a minute)
    .venv/bin/python bench/run.py --scenarios start --sizes 100,1000 --systems ours,raw

Scenarios (see docs/benchmarks.md):
  start     launch with N sleep workers until all N have exec'd, per size (goal: ours within
            1.5x of the raw loop, launched and observed the same way)
  latency   control round trip of a cheap command with W workers (goal: p50 < 1 ms, p99 < 5 ms)
  respawn   SIGKILL a worker, time until its replacement has exec'd (goal: median < 10 ms)
  rss       resident memory of the daemon process(es) with W workers (goal: < 60 MB)
  idle      CPU of the daemon process(es) with W workers doing nothing (goal: < 0.5 %)
  reattach  restart the daemon with W workers: ours adopts the running workers (goal: lists
            all W within 1 s); the originals stop and start theirs again

Every process a run starts (daemons, papa-kernel, workers) is ended before it exits: the
harness is a child subreaper, so even double-forked or orphaned descendants come back to it.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import json
import sys
import tempfile
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(REPO))  # our circus package (for circus.client), also without install

from harness import procfs, report, scenarios  # noqa: E402
from harness.base import Installs, System  # noqa: E402
from harness.circus_systems import Circus019, Ours  # noqa: E402
from harness.ours_install import install_wheel  # noqa: E402
from harness.raw_system import Raw  # noqa: E402
from harness.supervisor_system import RpcSpawnWaiter, Supervisor  # noqa: E402

SYSTEM_CLASSES: dict[str, type[System]] = {
    "raw": Raw, "ours": Ours, "circus019": Circus019, "supervisor": Supervisor,
}  # fmt: skip
SCENARIOS = ("start", "latency", "respawn", "rss", "idle", "reattach")
STEADY = ("latency", "respawn", "rss", "idle", "reattach")
SCALE_BEGIN = "<!-- scale:begin -->"  # --scale-docs: the 10,000-worker run goes in between
SCALE_END = "<!-- scale:end -->"
DOCS_BEGIN = "<!-- startup:begin -->"  # --docs: the start-up and memory figures go in between
DOCS_END = "<!-- startup:end -->"
SETTLE = 0.5  # seconds of rest after ending a system's processes, before the next launch


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="Scenarios: " + ", ".join(SCENARIOS)
    )
    parser.add_argument("--quick", action="store_true",
                        help="small run: sizes 50,200, 200 workers, fewer samples")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help="comma-separated subset of: " + ", ".join(SCENARIOS))
    parser.add_argument("--systems", default=",".join(SYSTEM_CLASSES),
                        help="comma-separated subset of: " + ", ".join(SYSTEM_CLASSES))
    parser.add_argument("--sizes", help="worker counts for 'start' (default 100,500,1000)")
    parser.add_argument("--workers", type=int,
                        help="worker count of the steady-state scenarios (default 1000)")
    parser.add_argument("--repeat", type=int, help="launches per size for 'start' (median)")
    parser.add_argument("--startup-repeat", type=int,
                        help="extra launches with 1 worker per system, for the start-up figure "
                             "(launch -> first worker; default 10, --quick 6)")
    parser.add_argument("--memory-repeat", type=int,
                        help="launches with W workers per system for 'rss' (best and median "
                             "shown; default 3, --quick 1)")
    parser.add_argument("--calls", type=int, help="timed control calls for 'latency'")
    parser.add_argument("--kills", type=int, help="SIGKILLs for 'respawn'")
    parser.add_argument("--idle-seconds", type=float, help="length of the 'idle' window")
    parser.add_argument("--json", type=Path, help="also write every sample to this file")
    parser.add_argument("--scale-docs", type=Path, metavar="FILE",
                        help="write the whole table of this run (meant for --sizes 10000 "
                             "--workers 10000) into the Markdown file (docs/benchmarks.md), "
                             "between its scale markers")
    parser.add_argument("--docs", type=Path, metavar="FILE",
                        help="also write the start-up and memory figures into this Markdown "
                             "file (docs/benchmarks.md), between its startup markers")
    parser.add_argument("--ours-install", choices=("wheel", "editable"), default="wheel",
                        help="wheel (default): run ours from a wheel built from the working "
                             "tree into a fresh venv, as the originals are installed; editable: "
                             "from the repository's .venv (its editable-install import hook "
                             "costs every launch ~10 ms and ~2 MB)")
    parser.add_argument("--ours-source", type=Path, metavar="DIR",
                        help="run our circusd (and papa-kernel) from the circus/ and "
                             "papa_kernel/ in DIR (a patched copy), to measure a change")
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {"sizes": "50,200" if quick else "100,500,1000", "workers": 200 if quick else 1000,
                "repeat": 1 if quick else 5, "startup_repeat": 6 if quick else 10,
                "memory_repeat": 1 if quick else 3,
                "calls": 300 if quick else 2000,
                "kills": 10 if quick else 50, "idle_seconds": 2.0 if quick else 10.0}  # fmt: skip
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.sizes = [int(size) for size in str(args.sizes).split(",") if size]
    args.scenarios = split_choice(parser, args.scenarios, SCENARIOS, "scenario")
    args.systems = split_choice(parser, args.systems, tuple(SYSTEM_CLASSES), "system")
    return args


def split_choice(parser, text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in allowed]
    if unknown:
        parser.error(f"unknown {what} {', '.join(unknown)} (choose from {', '.join(allowed)})")
    return chosen


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Runner:
    def __init__(self, args: argparse.Namespace, base: Path, installs: Installs) -> None:
        self.args = args
        self.base = base
        self.installs = installs
        self.results: dict = {"start": {}, "latency": {}, "respawn": {}, "rss": {}, "memory": {},
                              "rss_split": {}, "idle": {}, "restart": {}, "errors": [],
                              "notes": []}  # fmt: skip
        self.runs = 0

    def system(self, key: str, count: int) -> System:
        self.runs += 1
        return SYSTEM_CLASSES[key](self.installs, self.base / f"{self.runs:03d}-{key}", count)

    def fail(self, key: str, scenario: str, exc: Exception) -> None:
        log(f"{key} {scenario} FAILED: {exc}")
        self.results["errors"].append({"system": key, "scenario": scenario, "error": str(exc)})

    def run_start(self) -> None:
        """Every size ``--repeat`` times, then 1 worker ``--startup-repeat`` times (the
        start-up figure: launch -> first worker), systems in rotating order."""
        rounds = [self.args.sizes] * self.args.repeat + [[1]] * self.args.startup_repeat
        systems = self.args.systems
        for round_number, sizes in enumerate(rounds):
            order = systems[round_number % len(systems):] + systems[:round_number % len(systems)]
            for count in sizes:
                for key in order:
                    system = self.system(key, count)
                    try:
                        result = scenarios.measure_start(system, count)
                    except Exception as exc:
                        self.fail(key, f"start {count}", exc)
                        continue
                    finally:
                        system.teardown()
                        time.sleep(SETTLE)
                    self.results["start"].setdefault(count, {}).setdefault(key, []).append(result)
                    log(f"start {count:>5} {key:<10} {result.launch_to_running:.3f} s "
                        f"(spawn phase {result.spawn_phase:.3f} s)")  # fmt: skip

    def run_steady(self) -> None:
        count = self.args.workers
        for key in self.args.systems:
            if key == "raw":
                continue
            system = self.system(key, count)
            try:
                self.steady_session(system, count)
            except Exception as exc:  # one system failing must not lose the others' figures
                self.fail(key, "steady state", exc)
            finally:
                system.teardown()
                time.sleep(SETTLE)

    def steady_session(self, system: System, count: int) -> None:
        wanted = self.args.scenarios
        key = system.key
        scenarios.measure_start(system, count)
        scenarios.wait_listed(system, count, time.perf_counter())
        time.sleep(2.0)  # let start-up work (logs, timers, first checks) settle
        if "idle" in wanted:
            self.results["idle"][key] = scenarios.measure_idle(system, self.args.idle_seconds)
            log(f"idle      {key:<10} {self.results['idle'][key]:.3f} % of a core")
        if "rss" in wanted:
            self.memory_sample(system)
        if "latency" in wanted:
            samples = scenarios.measure_latency(system, self.args.calls)
            self.results["latency"][key] = samples
            log(f"latency   {key:<10} p50 {1000 * scenarios.percentile(samples, 0.5):.3f} ms "
                f"p99 {1000 * scenarios.percentile(samples, 0.99):.3f} ms")  # fmt: skip
        if "respawn" in wanted:
            self.respawn(system)
        if "reattach" in wanted:
            result = scenarios.measure_restart(system, count)
            self.results["restart"][key] = result
            log(f"restart   {key:<10} stop {result.stop:.3f} s, listed {result.listed:.3f} s, "
                f"running {result.running:.3f} s, {result.restarted} replaced")  # fmt: skip
            if system.can_reattach:
                crash = scenarios.measure_restart(system, count, crash=True)
                self.results["restart_after_kill9"] = {key: crash}
                note = (f"{key}: after SIGKILL of circusd (a crash), the next circusd lists all "
                        f"{count} adopted workers {crash.listed:.3f} s after launch "
                        f"({crash.restarted} replaced)")  # fmt: skip
                self.results["notes"].append(note)
                log(note)

    def memory_sample(self, system: System) -> None:
        """RSS, PSS and pages counted once of the daemons (the best RSS so far is "rss")."""
        key = system.key
        sample = scenarios.measure_memory(system)
        samples = self.results["memory"].setdefault(key, [])
        samples.append(sample)
        unique = "-" if sample.unique is None else f"{sample.unique / 1e6:.1f} MB"
        log(f"memory    {key:<10} RSS {sample.rss / 1e6:.1f} MB, PSS {sample.pss / 1e6:.1f} MB, "
            f"pages counted once {unique}")  # fmt: skip
        best = min(samples, key=lambda s: s.rss)
        self.results["rss"][key] = best.rss
        if len(best.split) > 1:
            self.results["rss_split"][key] = dict(best.split)

    def run_memory_repeats(self) -> None:
        """``--memory-repeat`` - 1 more launches with W workers per system, memory only,
        systems in rotating order (the steady-state session gave the first sample)."""
        count, systems = self.args.workers, [k for k in self.args.systems if k != "raw"]
        for round_number in range(1, self.args.memory_repeat):
            shift = round_number % max(len(systems), 1)
            for key in systems[shift:] + systems[:shift]:
                system = self.system(key, count)
                try:
                    scenarios.measure_start(system, count)
                    scenarios.wait_listed(system, count, time.perf_counter())
                    time.sleep(2.0)  # as in the steady-state session
                    self.memory_sample(system)
                except Exception as exc:
                    self.fail(key, "memory", exc)
                finally:
                    system.teardown()
                    time.sleep(SETTLE)

    def respawn(self, system: System) -> None:
        key = system.key
        result = scenarios.measure_respawn(system, self.args.kills)
        self.results["respawn"][key] = result
        log(f"respawn   {key:<10} median {1000 * scenarios.median(result.samples):.2f} ms "
            f"({result.method})")  # fmt: skip
        if isinstance(system, Supervisor):
            polled = scenarios.measure_respawn(system, self.args.kills, RpcSpawnWaiter(system),
                                               seed=5)  # fmt: skip
            self.results["supervisor_rpc_respawn"] = polled
            note = (f"supervisor respawn measured instead by polling getProcessInfo every "
                    f"1 ms (each request wakes supervisord's loop): median "
                    f"{1000 * scenarios.median(polled.samples):.1f} ms")  # fmt: skip
            self.results["notes"].append(note)
            log(note)


def notes(args: argparse.Namespace, results: dict) -> list[str]:
    lines = [
        f"'start' figures are the best of {args.repeat} launch(es) per size and system (the "
        "machine is shared, so the best is the reproducible figure; every sample is in --json "
        "and in the log above); the system order rotates between rounds. 'running' = the OS "
        "shows the worker exec'd "
        "`sleep` (a child of the workers' parent in /proc, polled every 2 ms).",
        "raw baseline: a Python process running an os.posix_spawn loop (setsid, stdio on "
        "/dev/null), launched and observed exactly like the daemons.",
        "circus 0.19.0 runs with check_delay = 0.1 s (default 1 s): it respawns only on that "
        "timer, so 0.1 s is the fair setting for it; the timer also costs it idle CPU.",
        "supervisor 4.3.0 runs with its defaults (startsecs = 1, AUTO child logs); its "
        "'listed' counts processes in STARTING or RUNNING with a pid.",
        "ours and circus 0.19.0: respawn is timed until the watcher.sleepers.spawn event "
        "arrives and the new pid has exec'd; supervisor: until a new child of supervisord "
        "appears in /proc (polled every 0.5 ms, which does not wake supervisord) and has exec'd.",
        "RSS/idle CPU: ours = circusd + papa-kernel; the originals = their one daemon. "
        f"Memory: the best (lowest RSS) of {args.memory_repeat} launch(es) per system; RSS "
        "counts a page shared by circusd and papa-kernel (the python binary, libc) twice, "
        "'pages counted once' once (from /proc/PID/pagemap); PSS shares every page among all "
        "the processes on the machine that map it (other users' pythons too). "
        f"Idle window: {args.idle_seconds:.0f} s, after 2 s of settling.",
        "restart: ours = `quit` (workers stay in the kernel) then a new circusd that adopts "
        "them; circus 0.19.0 = `quit` (stops the workers) then a new circusd; supervisor = "
        "supervisor.shutdown() then a new supervisord.",
        f"latency: {args.calls} timed calls after 50 untimed ones, one client, `numwatchers` "
        "for circus (ours and 0.19 through circus.client.CircusClient over ipc://), "
        "supervisor.getState over XML-RPC on its unix socket.",
    ]
    split = results.get("rss_split", {}).get("ours")
    if split:
        parts = " + ".join(f"{name} {size / 1e6:.1f} MB" for name, size in split.items())
        lines.append(f"ours RSS (the best launch): {parts}")
    return lines + list(results.get("notes", []))


def compile_sources(root: Path) -> None:
    """Byte-compile our circus/ and papa_kernel/ (into their gitignored __pycache__): the
    originals are pip-installed with their .pyc files, and an editable install under
    PYTHONDONTWRITEBYTECODE (set in this project's shells) would otherwise compile every
    module at each launch, about a third of circusd's start-up CPU."""
    for package in ("circus", "papa_kernel"):
        compileall.compile_dir(root / package, quiet=1)


def to_jsonable(value):
    if is_dataclass(value):
        return asdict(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    source = args.ours_source.resolve() if args.ours_source else None
    if source is not None and not (source / "circus" / "cli" / "circusd.py").exists():
        log(f"--ours-source {source}: no circus/cli/circusd.py there")
        return 2
    installs = Installs.find(REPO, source)
    compile_sources(source or REPO)
    systems = []
    for key in args.systems:
        reason = installs.missing(key)
        if reason:
            log(f"skipping {key}: {reason}")
        else:
            systems.append(key)
    args.systems = systems
    if not procfs.become_subreaper():
        log("warning: cannot become a child subreaper; orphans go to pid 1")
    nofile = procfs.raise_nofile_limit()
    load_before = report.load_average()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="circus-bench-") as tmp:
        if "ours" in args.systems and source is None and args.ours_install == "wheel":
            log("building and installing ours from a wheel (bench/harness/ours_install.py)")
            installs = dataclasses.replace(
                installs, ours_bin=install_wheel(REPO, Path(tmp) / "ours-install")
            )
        runner = Runner(args, Path(tmp), installs)
        try:
            if "start" in args.scenarios:
                runner.run_start()
            if any(s in args.scenarios for s in STEADY):
                runner.run_steady()
            if "rss" in args.scenarios:
                runner.run_memory_repeats()
        finally:
            procfs.kill_and_reap_children()
    results = runner.results
    rows = report.build_rows(results, args.sizes, args.workers)
    print(f"\nCircus benchmarks, {report.timestamp()}, {time.time() - started:.0f} s")
    print(f"machine: {report.machine_description()}; RLIMIT_NOFILE {nofile}")
    print(f"load average before: {load_before}, after: {report.load_average()}")
    if installs.ours_source is not None:
        print(f"ours run from the source tree {installs.ours_source}")
    elif "ours" in args.systems:
        print(f"ours installed: {args.ours_install} ({installs.ours_bin})")
    print()
    print(report.render_table(rows, args.systems))
    print("\nNotes:")
    for line in notes(args, results):
        print(f"- {line}")
    for error in results["errors"]:
        print(f"- FAILED: {error['system']} {error['scenario']}: {error['error']}")
    if args.json:
        args.json.write_text(json.dumps(to_jsonable(results), indent=1))
    if args.scale_docs:
        context = (f"`bench/run.py {' '.join(argv if argv is not None else sys.argv[1:])}` on "
                   f"{report.timestamp()}, {time.time() - started:.0f} s; "
                   f"{report.machine_description()}; RLIMIT_NOFILE {nofile}; load average "
                   f"before {load_before}, after {report.load_average()}.")  # fmt: skip
        table = report.render_table(rows, args.systems)
        section = report.scale_section(table, notes(args, results), context)
        report.write_section(args.scale_docs, SCALE_BEGIN, SCALE_END,
                             "## 10,000 workers: latest run", section)  # fmt: skip
        log(f"the table was written to {args.scale_docs}")
    if args.docs:
        context = (f"`bench/run.py {' '.join(argv if argv is not None else sys.argv[1:])}` on "
                   f"{report.timestamp()}; {report.machine_description()}; load average "
                   f"before {load_before}, after {report.load_average()}. Start-up: every "
                   "launch of the 'start' scenario (all sizes; systems in rotating order), "
                   "launch until the OS shows the first worker exec'd. Memory (see 'rss' above): "
                   "ours = circusd + papa-kernel; RSS counts the pages the two share twice, "
                   "'pages counted once' once. Ours ran from "
                   + (f"the source tree {source}" if source is not None else
                      "a wheel built from the working tree" if args.ours_install == "wheel"
                      else "the repository's editable .venv") + ".")  # fmt: skip
        section = report.startup_memory_section(results, args.systems, args.workers, context)
        report.write_section(args.docs, DOCS_BEGIN, DOCS_END,
                             "## Start-up and memory: latest run", section)  # fmt: skip
        log(f"start-up and memory figures written to {args.docs}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
