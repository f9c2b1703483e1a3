"""Configuration loading time against size: ours and the original circus 0.19.0, in one run.

    .venv/bin/python bench/config_parse.py            # 0.4 MB and 1.6 MB of each shape
    .venv/bin/python bench/config_parse.py --sizes 0.2,0.8,3.2

For each shape and size a file is generated and loaded in a fresh process (ours:
``circus.config.load_config``; the original: ``circus.config.get_config`` from
``.venv-circus019``, skipped when that venv is missing). The figure is the CPU time of that
process (user + system, so a loaded machine does not skew it) minus the CPU time of loading an
empty configuration (the imports). Linear loading makes the growth column about the size ratio;
a load that takes longer than ``--limit`` seconds shows as ``> LIMIT``.

Shapes (issue 7, item 5):
  watchers   many small [watcher:NAME] sections (the realistic big file)
  word       one watcher whose cmd is a single long word
  continued  one value spread over many continuation lines
  blanks     a line without '=' made of long runs of blanks

Ours refuses a value over 128 KiB (``word``, ``continued`` at these sizes) with an error at its
line: the time shown is that of reading the file and refusing it.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ORIGINAL = REPO / ".venv-circus019" / "bin" / "python"
NOISE = 0.01  # below this much CPU time, a growth ratio means nothing ("-")

LOADERS = {
    "ours": (
        sys.executable,
        "import sys\nfrom circus.config import load_config\nfrom circus.errors import ConfigError\n"
        "try:\n    load_config(sys.argv[1], log_warnings=False)\nexcept ConfigError:\n    pass\n",
    ),
    "circus 0.19": (
        str(ORIGINAL),
        "import sys\nfrom circus.config import get_config\ntry:\n    get_config(sys.argv[1])\n"
        "except Exception:\n    pass\n",
    ),
}


def watchers(size: int) -> str:
    parts, total, index = [], 0, 0
    while total < size:
        part = f"[watcher:w{index}]\ncmd = /bin/sleep 1000 --flag-{index}\nnumprocesses = 1\n"
        parts.append(part)
        total += len(part)
        index += 1
    return "".join(parts)


SHAPES = {
    "watchers": watchers,
    "word": lambda size: f"[watcher:w]\ncmd = /bin/{'a' * size}\n",
    "continued": lambda size: (
        "[watcher:w]\ncmd = /bin/true\nargs = x\n"
        + "".join(f"  {'w' * 61}\n" for _ in range(size // 64))
    ),
    "blanks": lambda size: "[watcher:w]\ncmd = /bin/true\nx" + " " * size + "y\n",
}


def cpu_seconds(python: str, code: str, path: Path, limit: float) -> float:
    """CPU time (user + system) of one loading process; ``inf`` if it ran out of ``limit``
    seconds (of wall time)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        subprocess.run(  # cwd: the file's directory, so "-c" does not import this repository's
            [python, "-c", code, str(path)],  # circus into the original's venv
            check=True,
            capture_output=True,
            timeout=limit,
            cwd=path.parent,
        )
    except subprocess.TimeoutExpired:
        return float("inf")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best(python: str, code: str, path: Path, repeat: int, limit: float) -> float:
    times = []
    for _ in range(repeat):
        times.append(cpu_seconds(python, code, path, limit))
        if times[-1] == float("inf"):
            break
    return min(times)


def cell(seconds: float, limit: float) -> str:
    if seconds == float("inf"):
        return f"{'> ' + format(limit, '.0f'):>10} s"
    return f"{seconds:>10.3f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.4,1.6", help="file sizes in MB (default 0.4,1.6)")
    parser.add_argument("--repeat", type=int, default=3, help="loads per case (the best counts)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="subset of the shapes")
    parser.add_argument("--limit", type=float, default=60, help="seconds allowed per load")
    args = parser.parse_args(argv)
    sizes = [float(s) for s in args.sizes.split(",")]
    loaders = {k: v for k, v in LOADERS.items() if k == "ours" or ORIGINAL.exists()}
    with tempfile.TemporaryDirectory(prefix="circus-bench-config-") as tmp:
        empty = Path(tmp) / "empty.ini"
        empty.write_text("[watcher:w]\ncmd = /bin/true\n")
        base = {
            k: best(py, code, empty, args.repeat, args.limit) for k, (py, code) in loaders.items()
        }
        header = "".join(f"{s:>10.1f} MB" for s in sizes)
        size_growth = sizes[-1] / sizes[0]
        print(f"{'shape':<10} {'loader':<12}{header}  growth (size x{size_growth:.0f})", flush=True)
        for shape in args.shapes.split(","):
            paths = []
            for size in sizes:
                path = Path(tmp) / f"{shape}-{size}.ini"
                path.write_text(SHAPES[shape](int(size * 1024 * 1024)))
                paths.append(path)
            for key, (python, code) in loaders.items():
                times = [
                    max(best(python, code, p, args.repeat, args.limit) - base[key], 1e-4)
                    for p in paths
                ]
                cells = "".join(cell(t, args.limit) for t in times)
                growth = f"x{times[-1] / times[0]:.1f}" if times[0] >= NOISE else "-"
                print(f"{shape:<10} {key:<12}{cells}  {growth}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
