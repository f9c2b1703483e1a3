"""Take the screenshots of docs/web.md: a demo circusd (with circusd-stats when it exists) and
circushttpd, driven by headless chromium.

    .venv/bin/python tests/web/screenshots.py            # writes docs/img/web-*.png
    .venv/bin/python tests/web/screenshots.py --out /tmp/shots --settle 30

Everything it starts (circusd, the kernel, workers, circushttpd, chromium) is ended before it
exits (a child subreaper collects the double-forked kernel and its workers).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # console.py, browser.py; support.py

import support  # noqa: E402
from browser import TIMEOUT_MS, launched  # noqa: E402
from console import Console  # noqa: E402

DEMO = HERE / "demo_worker.py"


def demo_config(port: int) -> str:
    py = sys.executable
    return f"""
        [socket:web]
        host = 127.0.0.1
        port = {port}

        [watcher:web]
        cmd = {py} {support.CIRCUSD_WORKER} http $(circus.sockets.web)
        use_sockets = true
        numprocesses = 3

        [watcher:api]
        cmd = {py} {DEMO} 0.15 1
        numprocesses = 2

        [watcher:queue-worker]
        cmd = {py} {DEMO} 0.05 3
        numprocesses = 4

        [watcher:mailer]
        cmd = {py} {DEMO} 0.01 5
        numprocesses = 1
        use_papa = false

        [watcher:nightly-report]
        cmd = {py} {DEMO} 0 10
        numprocesses = 1
        autostart = false
    """


def shoot(console: Console, out: Path, settle: float) -> list[Path]:
    written: list[Path] = []
    with launched() as browser:
        context = browser.new_context(
            viewport={"width": 1280, "height": 800}, device_scale_factor=1
        )
        context.set_default_timeout(TIMEOUT_MS)

        def save(page, name: str, full: bool = False) -> None:
            path = out / f"web-{name}.png"
            page.screenshot(path=str(path), full_page=full)
            written.append(path)

        page = context.new_page()
        page.goto(f"{console.url}/login")
        save(page, "login")
        page.fill("#f-token", console.token)
        page.click("#login-submit")
        page.wait_for_selector("body[data-ready=true]")
        time.sleep(settle)  # let the charts fill
        save(page, "home")

        page.goto(f"{console.url}/watchers/api")
        page.wait_for_selector("body[data-ready=true]")
        page.wait_for_selector("#process-rows tr[data-pid]")
        time.sleep(2)
        save(page, "watcher", full=True)

        page.goto(f"{console.url}/watchers/api/output")
        page.wait_for_selector("body[data-ready=true]")
        time.sleep(4)
        save(page, "output")

        page.goto(f"{console.url}/add")
        page.fill("#f-name", "web")
        page.fill("#f-cmd", "python3 -m http.server 8000")
        page.fill("#f-numprocesses", "-2")
        page.click("#add-submit")
        page.wait_for_selector(".field.invalid")
        page.fill("#f-numprocesses", "2")
        page.click("#add-submit")  # the server refuses the name: shown next to it
        page.wait_for_selector('.field[data-field="name"].invalid')
        save(page, "add", full=True)

        page.goto(f"{console.url}/kernel")
        page.wait_for_selector("body[data-ready=true]")
        time.sleep(1)
        save(page, "kernel", full=True)

        page.goto(f"{console.url}/")
        page.wait_for_selector("body[data-ready=true]")
        console.circusd.stop()
        page.wait_for_selector("#banner:not([hidden])")
        time.sleep(1)
        save(page, "disconnected")
        context.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "img"), help="output directory")
    parser.add_argument(
        "--settle", type=float, default=20.0, help="seconds to let the charts fill (default 20)"
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with support.subreaper(), tempfile.TemporaryDirectory(prefix="circus-shots-") as tmp:
        console = Console(
            os.path.join(tmp, "console"), demo_config(support.free_port()), stats=True
        )
        try:
            console.start()
            for path in shoot(console, out, args.settle):
                print(path)
        finally:
            console.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
