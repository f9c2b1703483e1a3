"""The results table: absolute figures per system, ratios of ours to the others, goals."""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.scenarios import median, percentile

SYSTEMS = ("raw", "ours", "circus019", "supervisor")
HEADERS = {"raw": "raw baseline", "ours": "ours", "circus019": "circus 0.19.0",
           "supervisor": "supervisor 4.3.0"}  # fmt: skip
RATIO_AGAINST = ("raw", "circus019", "supervisor")


@dataclass
class Row:
    name: str
    unit: str  # "s", "ms", "MB", "%", "" (a count)
    values: dict[str, float] = field(default_factory=dict)
    goal: str = ""
    check: Callable[[dict[str, float]], bool] | None = None
    ratios: bool = True

    def verdict(self) -> str:
        if self.check is None:
            return ""
        if "ours" not in self.values:
            return f"{self.goal}: not measured"
        try:
            met = self.check(self.values)
        except KeyError:
            return f"{self.goal}: not measured"
        return f"{self.goal}: {'met' if met else 'MISSED'}"


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "ms":
        return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"
    if unit == "MB":
        return f"{value:.1f} MB"
    if unit == "%":
        return f"{value:.2f} %"
    return f"{value:.0f}"


def fmt_ratio(ours: float | None, other: float | None) -> str:
    if ours is None or other is None:
        return "-"
    if other == 0:
        return "-" if ours == 0 else "inf"
    ratio = ours / other
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.3f}x"


#: From this many workers on, the start goal is issue 13's "within 2x the raw loop".
SCALE_SIZE = 10_000


def start_goal(count: int) -> float:
    """How many times the raw loop's start ours may take with ``count`` workers."""
    return 2.0 if count >= SCALE_SIZE else 1.5


def build_rows(results: dict, sizes: list[int], workers: int) -> list[Row]:
    rows: list[Row] = []
    starts = results.get("start", {})
    for count in sizes:
        per_system = starts.get(count, {})
        if not per_system:
            continue
        most = start_goal(count)
        launch = Row(f"start {count}: launch -> all running", "s", goal=f"<= {most:g}x raw",
                     check=lambda v, most=most: v["ours"] <= most * v["raw"])  # fmt: skip
        phase = Row(f"start {count}: first -> last worker running", "s")
        loop = Row(f"start {count}: raw loop timed in-process", "s", ratios=False)
        for key, samples in per_system.items():
            launch.values[key] = min(s.launch_to_running for s in samples)
            phase.values[key] = min(s.spawn_phase for s in samples)
            if key == "raw":
                loop.values[key] = min(s.loop for s in samples)
        rows += [launch, phase] + ([loop] if loop.values else [])
    if starts:
        first = Row("start-up: launch -> first worker running (any size)", "s")
        for key in SYSTEMS:
            if samples := startup_samples(results, key):
                first.values[key] = min(samples)
        rows.append(first)
    latency = results.get("latency", {})
    if latency:
        p50 = Row(f"control round trip p50 ({workers} workers)", "ms", goal="< 1 ms",
                  check=lambda v: v["ours"] < 1.0)  # fmt: skip
        p99 = Row(f"control round trip p99 ({workers} workers)", "ms", goal="< 5 ms",
                  check=lambda v: v["ours"] < 5.0)  # fmt: skip
        for key, samples in latency.items():
            p50.values[key] = 1000 * percentile(samples, 0.50)
            p99.values[key] = 1000 * percentile(samples, 0.99)
        rows += [p50, p99]
    respawn = results.get("respawn", {})
    if respawn:
        med = Row("respawn after SIGKILL, median", "ms", goal="< 10 ms",
                  check=lambda v: v["ours"] < 10.0)  # fmt: skip
        p90 = Row("respawn after SIGKILL, p90", "ms")
        for key, result in respawn.items():
            med.values[key] = 1000 * median(result.samples)
            p90.values[key] = 1000 * percentile(result.samples, 0.90)
        rows += [med, p90]
    if results.get("rss"):  # a goal at 1000 workers; at 10,000 it is per worker (memory.py)
        rss = Row(f"RSS of the daemon(s), {workers} workers", "MB",
                  values={k: v / 1e6 for k, v in results["rss"].items()})  # fmt: skip
        if workers < SCALE_SIZE:
            rss.goal, rss.check = "< 60 MB", lambda v: v["ours"] < 60.0
        rows.append(rss)
        best = best_memory(results)
        rows.append(Row(f"PSS of the daemon(s), {workers} workers", "MB",
                        values={k: m.pss / 1e6 for k, m in best.items()}))  # fmt: skip
        once = {k: m.unique / 1e6 for k, m in best.items() if m.unique is not None}
        if once:
            rows.append(Row(f"memory of the daemon(s), pages counted once, {workers} workers",
                            "MB", values=once))  # fmt: skip
    if results.get("idle"):
        rows.append(Row(f"idle CPU of the daemon(s), {workers} workers", "%", goal="< 0.5 %",
                        check=lambda v: v["ours"] < 0.5, values=dict(results["idle"])))  # fmt: skip
    restart = results.get("restart", {})
    if restart:
        rows += [
            Row("restart: stop the daemon", "s", ratios=False,
                values={k: r.stop for k, r in restart.items()}),
            Row(f"restart: launch -> all {workers} listed again", "s", goal="< 1 s",
                check=lambda v: v["ours"] < 1.0,
                values={k: r.listed for k, r in restart.items()}),
            Row(f"restart: launch -> all {workers} running again", "s", ratios=False,
                values={k: r.running for k, r in restart.items()}),
            Row("restart: workers replaced by new ones", "", ratios=False,
                values={k: float(r.restarted) for k, r in restart.items()}),
        ]  # fmt: skip
    return rows


def render_table(rows: list[Row], systems: list[str]) -> str:
    shown = [key for key in SYSTEMS if key in systems]
    against = [key for key in RATIO_AGAINST if key in shown and "ours" in shown]
    header = (["scenario"] + [HEADERS[k] for k in shown]
              + [f"ours / {HEADERS[k]}" for k in against] + ["goal (ours)"])  # fmt: skip
    lines = [header, ["---"] * len(header)]
    for row in rows:
        cells = [row.name] + [fmt_value(row.values.get(k), row.unit) for k in shown]
        for key in against:
            ok = row.ratios and key in row.values
            cells.append(fmt_ratio(row.values.get("ours"), row.values.get(key)) if ok else "-")
        cells.append(row.verdict())
        lines.append(cells)
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def machine_description() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.node()}: Linux {platform.release()}, {os.cpu_count()} x {cpu}, "
            f"{memory:.0f} GiB RAM, Python {sys.version.split()[0]}")  # fmt: skip


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def timestamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M %Z")


def startup_samples(results: dict, key: str) -> list[float]:
    """Every launch -> first worker running of ``key`` in the 'start' scenario (all sizes)."""
    return [s.launch_to_running - s.spawn_phase
            for per_system in results.get("start", {}).values()
            for s in per_system.get(key, [])]  # fmt: skip


def best_memory(results: dict) -> dict:
    """Per system, the memory sample with the lowest RSS (harness.scenarios.MemoryResult)."""
    return {key: min(samples, key=lambda s: s.rss)
            for key, samples in results.get("memory", {}).items() if samples}  # fmt: skip


def memory_rows(results: dict, shown: list[str], workers: int) -> list[list[str]]:
    """RSS (best and median, ours split), PSS and the pages counted once, with the goal
    "below circus 0.19.0" on RSS and on the pages counted once."""
    samples = {k: v for k, v in results.get("memory", {}).items() if k in shown and v}
    if not samples:
        return []
    count = max(len(v) for v in samples.values())
    best = best_memory(results)
    figures = [
        (f"RSS of the daemon(s), {workers} workers, best of {count}",
         {k: m.rss for k, m in best.items()}, True),
        (f"RSS of the daemon(s), {workers} workers, median of {count}",
         {k: median([m.rss for m in v]) for k, v in samples.items()}, False),
        ("PSS of the daemon(s) (pages shared with any process count in part), best RSS run",
         {k: m.pss for k, m in best.items()}, False),
        (f"memory of the daemon(s), pages counted once, best of {count}",
         {k: min(m.unique for m in v) for k, v in samples.items()
          if all(m.unique is not None for m in v)}, True),
    ]  # fmt: skip
    rows = []
    for label, raw, with_goal in figures:
        if not raw:
            continue
        values = {k: v / 1e6 for k, v in raw.items()}
        cells = [fmt_value(values.get(k), "MB") for k in shown]
        split = results.get("rss_split", {}).get("ours")
        if label.startswith("RSS") and with_goal and split and "ours" in shown:
            parts = " + ".join(f"{name} {size / 1e6:.1f}" for name, size in split.items())
            cells[shown.index("ours")] += f" ({parts})"
        goal = ""
        if with_goal and "ours" in values and "circus019" in values:
            met = values["ours"] < values["circus019"]
            goal = f"< circus 0.19.0: {'met' if met else 'MISSED'}"
        rows.append([label, *cells, fmt_ratio(values.get("ours"), values.get("circus019")), goal])
    return rows


def startup_memory_section(results: dict, systems: list[str], workers: int, context: str) -> str:
    """The "Start-up and memory" figures of docs/benchmarks.md (issue 13): launch -> first
    worker (best and median of every launch of the 'start' scenario) and RSS, ours against
    circus 0.19.0, with the goals. ``context`` says when, how and at what load."""
    shown = [key for key in SYSTEMS if key in systems]
    header = ["figure", *(HEADERS[k] for k in shown), "ours / circus 0.19.0", "goal (ours)"]
    rows: list[list[str]] = []
    starts = {key: startup_samples(results, key) for key in shown}
    if any(starts.values()):
        count = max(len(samples) for samples in starts.values())
        for label, pick in (("best", min), ("median", median)):
            values = {k: pick(v) for k, v in starts.items() if v}
            goal = ""
            if label == "best" and "ours" in values:
                verdicts = []
                if "circus019" in values:
                    met = values["ours"] <= values["circus019"]
                    verdicts.append(f"<= circus 0.19.0: {'met' if met else 'MISSED'}")
                if "raw" in values:
                    met = values["ours"] <= values["raw"] + 0.040
                    verdicts.append(f"<= raw + 40 ms: {'met' if met else 'MISSED'}")
                goal = "; ".join(verdicts)
            rows.append([f"start-up: launch -> first worker running, {label} of {count}",
                         *(fmt_value(values.get(k), "s") for k in shown),
                         fmt_ratio(values.get("ours"), values.get("circus019")), goal])  # fmt: skip
    rows += memory_rows(results, shown, workers)
    lines = [header, ["---"] * len(header), *rows]
    table = "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
    return f"{context}\n\n{table}\n"


def scale_section(table: str, notes: list[str], context: str) -> str:
    """The 10,000-worker section of docs/benchmarks.md (``bench/run.py --scale-docs``): what
    was run and on what machine, the table, and the notes printed with it."""
    lines = [context, "", table, "", "Notes printed with the table:", ""]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def write_section(path: str | os.PathLike[str], begin: str, end: str, heading: str,
                  text: str) -> None:  # fmt: skip
    """Replace the text between the markers ``begin`` and ``end`` of the Markdown file
    ``path`` by ``text``; without them, append ``heading`` and the marked text."""
    doc = Path(path).read_text()
    block = f"{begin}\n{text}{end}"
    if begin in doc and end in doc:
        pattern = re.escape(begin) + ".*?" + re.escape(end)
        doc = re.sub(pattern, lambda _match: block, doc, count=1, flags=re.S)
    else:
        doc = doc.rstrip("\n") + f"\n\n{heading}\n\n{block}\n"
    Path(path).write_text(doc)
