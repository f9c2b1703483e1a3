"""The web console under load: a circusd with 100 watchers / 1000 processes, circushttpd in
front of it, headless chromium as the browser.

    .venv/bin/python bench/web.py                   # full run (about 3 minutes)
    .venv/bin/python bench/web.py --quick           # 20 watchers x 5, 15 s of CPU (~1 min)

Two figures (docs/benchmarks.md, "The web console"):

  render  navigation start -> the watcher table rendered with every row (the page marks
          ``watchers-rendered`` with performance.mark() after its first render), in the
          browser, over --loads reloads; goal: median < 300 ms.
  cpu     CPU time (user + system) of the circushttpd process while --browsers pages show
          the home page (WebSocket open, stats subscribed), over --seconds; goal: < 3% of
          one core.

The workers are ``/usr/bin/sleep`` (1000 Python workers would take gigabytes). circusd-stats
runs beside circusd when this checkout has it (tests/web/console.py starts it), so the stats
stream is part of the load. The machine is shared: the load average at the start and the end
is printed beside the figures. No original to compare with: circus-web 0.19 is not installed
here (it needs Python 2-era dependencies), so the figures are absolute.

Everything started (circusd, the kernel, 1000 workers, circushttpd, chromium) is ended before
the script exits: it is a child subreaper and kills and reaps whatever is left.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests" / "web"), str(REPO / "tests")]

import psutil  # noqa: E402
import support  # noqa: E402
from browser import launched  # noqa: E402
from console import Console  # noqa: E402

SLEEP = "/usr/bin/sleep"
RENDER_GOAL_MS = 300
CPU_GOAL = 3.0  # percent of one core


def config(watchers: int, per_watcher: int) -> str:
    return "".join(
        f"""
        [watcher:w{i:03d}]
        cmd = {SLEEP} 100000
        numprocesses = {per_watcher}
        """
        for i in range(watchers)
    )


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def wait_all_running(console: Console, total: int, timeout: float) -> float:
    start = time.monotonic()

    def running() -> bool:  # the workers are children of the kernel, once they exec'd sleep
        kernel = console.circusd.kernel_pid()
        if kernel is None:
            return False
        try:
            children = psutil.Process(kernel).children()
        except psutil.Error:
            return False
        count = 0
        for child in children:
            with contextlib.suppress(psutil.Error):
                count += child.name() == "sleep"
        return count >= total

    support.wait_for(running, timeout=timeout, interval=0.5, message=f"{total} processes")
    return time.monotonic() - start


def measure_render(console: Console, browser, watchers: int, loads: int) -> list[float]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = console.login(context, "/")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    samples = []
    for _ in range(loads + 1):
        page.reload()
        # a selector, not wait_for_function: the page's CSP forbids eval
        page.wait_for_selector(
            f"body[data-ready=true] #watcher-rows tr[data-watcher]:nth-child({watchers})",
            timeout=30_000,
        )
        samples.append(
            page.evaluate("performance.getEntriesByName('watchers-rendered')[0].startTime")
        )
    context.close()
    return samples[1:]  # the first load warms the caches (static files, templates)


def measure_cpu(console: Console, browser, browsers: int, seconds: float) -> dict:
    contexts = []
    for _ in range(browsers):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = console.login(context, "/")
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        contexts.append(context)
    time.sleep(3)  # past the first loads: the steady state is what is measured
    assert console.httpd is not None
    proc = psutil.Process(console.httpd.pid)
    before = proc.cpu_times()
    started = time.monotonic()
    time.sleep(seconds)
    after = proc.cpu_times()
    elapsed = time.monotonic() - started
    streaming = contexts[0].pages[0].locator("#stats-card").text_content() if contexts else ""
    for context in contexts:
        context.close()
    used = (after.user - before.user) + (after.system - before.system)
    return {
        "cpu_seconds": used,
        "elapsed": elapsed,
        "percent": 100.0 * used / elapsed,
        "stats_streaming": "streaming" in streaming,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 watchers x 5, 15 s of CPU")
    parser.add_argument("--watchers", type=int, default=None, help="default 100")
    parser.add_argument("--per-watcher", type=int, default=None, help="default 10")
    parser.add_argument("--loads", type=int, default=10, help="timed page loads (default 10)")
    parser.add_argument("--browsers", type=int, default=5, help="connected pages (default 5)")
    parser.add_argument("--seconds", type=float, default=None, help="CPU window (default 60)")
    args = parser.parse_args()
    watchers = args.watchers or (20 if args.quick else 100)
    per_watcher = args.per_watcher or (5 if args.quick else 10)
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    total = watchers * per_watcher
    raise_nofile()
    load_before = os.getloadavg()
    with support.subreaper(), tempfile.TemporaryDirectory(prefix="circus-bench-web-") as tmp:
        console = Console(os.path.join(tmp, "console"), config(watchers, per_watcher), stats=True)
        try:
            console.start()
            spawn = wait_all_running(console, total, timeout=300)
            print(
                f"{watchers} watchers / {total} processes running ({spawn:.1f} s)", file=sys.stderr
            )
            with launched() as browser:
                renders = measure_render(console, browser, watchers, args.loads)
                cpu = measure_cpu(console, browser, args.browsers, seconds)
        finally:
            console.cleanup()
    load_after = os.getloadavg()
    median = statistics.median(renders)
    worst = max(renders)
    if cpu["stats_streaming"]:
        stats = "with circusd-stats streaming"
    else:
        stats = "circusd-stats started but NOT streaming (see its log)"
    print(f"## The web console: {watchers} watchers / {total} processes, {stats}\n")
    print("| figure | value | goal |")
    print("|---|---|---|")
    print(
        f"| home page, navigation -> table rendered (median of {len(renders)}) | "
        f"{median:.0f} ms (min {min(renders):.0f}, max {worst:.0f}) | < {RENDER_GOAL_MS} ms |"
    )
    print(
        f"| circushttpd CPU with {args.browsers} pages open, {cpu['elapsed']:.0f} s | "
        f"{cpu['percent']:.2f}% of one core ({cpu['cpu_seconds']:.2f} s CPU) | < {CPU_GOAL}% |"
    )
    print(
        f"\nload average (1 min) at start {load_before[0]:.2f}, at end {load_after[0]:.2f} "
        f"({os.cpu_count()} cores, shared with other work)"
    )
    ok = median < RENDER_GOAL_MS and cpu["percent"] < CPU_GOAL
    print("\nall goals met" if ok else "\nGOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
