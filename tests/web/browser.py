"""A headless Chromium for the browser tests (Playwright for Python on Debian's chromium).

Playwright cannot download a browser here; it drives the system's chromium: Debian's
``chromium-headless-shell`` when it is installed, else ``/usr/bin/chromium``
(``$CIRCUS_CHROMIUM`` overrides the path). The headless shell is the same engine without the
browser's user interface, profile and services (what Playwright itself uses for headless runs):
the browser tests cost ~40 % less CPU with it. Tests skip, saying why, only when no browser is
there. As root it runs through network_blind.py, so that the other tests' network namespaces
(new addresses on the machine) do not fail its requests with ``net::ERR_NETWORK_CHANGED``.

Playwright's sync API keeps an asyncio loop running in the main thread while it is started,
which breaks ``asyncio.run()`` in other tests: a browser therefore lives for one test module
(module-scoped fixtures), never for the whole session.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import sys
import time
import weakref
from collections.abc import Iterator

import network_blind
import pytest

#: The browsers tried in turn (the first one found), unless $CIRCUS_CHROMIUM names one.
BROWSERS = ("/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium")
CHROMIUM = os.environ.get("CIRCUS_CHROMIUM") or next(
    (path for path in BROWSERS if os.access(path, os.X_OK)), BROWSERS[-1]
)
#: Upper bound of any single browser wait (ms): generous for a loaded 2-core machine.
TIMEOUT_MS = 15_000

# Chromium's own address-bar popup: headless chromium (the full browser since chromium 132;
# not the headless shell, where the switch does nothing)
# preloads it as two WebUI pages in a renderer of their own for every window, so for every
# browser context a test opens (19 in test_console.py: 9.5 s of the module's 30 s of CPU).
# Chromium keeps only the last --disable-features, so Playwright's own list (1.65's
# chromiumSwitches) is repeated before ours.
_PLAYWRIGHT_DISABLED_FEATURES = (
    "AimEnabled,AvoidCorsURLLoaderRestartOnRedirect,AvoidUnnecessaryBeforeUnloadCheckSync,"
    "DestroyProfileOnBrowserClose,HttpsFirstBalancedModeAutoEnable,HttpsUpgrades,LensOverlay,"
    "MediaRouter,NetworkTimeServiceQuerying,OptimizationHints,PaintHolding,PreconnectToSearch,"
    "TcpPortRandomizationWin,ThirdPartyStoragePartitioning"
)
DISABLE_FEATURES = (
    f"--disable-features={_PLAYWRIGHT_DISABLED_FEATURES},WebUIOmniboxPopup,WebUIOmniboxAimPopup"
)


def chromium_or_skip() -> str:
    """The chromium executable, or skip the test with the reason."""
    path = CHROMIUM if os.path.isabs(CHROMIUM) else shutil.which(CHROMIUM)
    if not path or not os.access(path, os.X_OK):
        pytest.skip(
            f"browser tests need chromium at {CHROMIUM} "
            "(apt-get install chromium-headless-shell)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("browser tests need playwright (pip install -e '.[dev]')")
    return path


@contextlib.contextmanager
def launched() -> Iterator[object]:
    """A headless chromium browser (Playwright ``Browser``), closed after the block."""
    from playwright.sync_api import sync_playwright

    path = chromium_or_skip()
    root = os.geteuid() == 0
    args = ["--no-sandbox"] if root else []  # chromium's sandbox refuses root
    args.append(DISABLE_FEATURES)
    # As root (where tests/netns.py changes the machine's addresses) the browser is blind to
    # address changes, which fail its requests (network_blind.py). Not otherwise: its seccomp
    # filter sets no_new_privs, which a setuid sandbox (the fallback of chromium's own
    # sandbox where user namespaces are not allowed) cannot run under.
    executable = network_blind.__file__ if root else path
    env = {**os.environ, network_blind.ENV: path}
    # network_blind.py's "#!/usr/bin/env python3" finds this Python first: a python3 of PATH
    # may be a version manager's shim (pyenv's: ~0.1 s of CPU in bash before Python starts).
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=args, env=env, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


def log_of(context) -> PageLog | None:
    """The :class:`PageLog` of a browser context (None if it has none)."""
    return _LOGS.get(context)


#: The PageLog of each browser context.
_LOGS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class PageLog:
    """What the pages of a browser context did, for the message of a wait that timed out:
    console messages, page errors, requests that failed or got no answer yet (with their
    age), and the live feed's WebSocket frames. Bounded: the last :data:`KEEP` entries."""

    KEEP = 300

    def __init__(self, context) -> None:
        self.start = time.monotonic()
        self.entries: collections.deque[str] = collections.deque(maxlen=self.KEEP)
        self.pending: dict[object, tuple[float, str]] = {}
        self.pages = 0
        self.stats_frames = 0
        _LOGS[context] = self
        context.on("page", self._attach)
        for page in context.pages:
            self._attach(page)

    def begin(self, title: str) -> None:
        """Forget what came before (a context shared by a module's tests: a failed test
        reports what its own pages did)."""
        self.start = time.monotonic()
        self.entries.clear()
        self.stats_frames = 0
        self._note(title)

    def _note(self, text: str) -> None:
        self.entries.append(f"{time.monotonic() - self.start:7.2f}s {text}")

    def _attach(self, page) -> None:
        self.pages += 1
        tag = f"page {self.pages}:"
        note = self._note
        page.on("console", lambda msg: note(f"{tag} console.{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: note(f"{tag} page error: {exc}"))
        page.on("framenavigated", lambda f: f == page.main_frame and note(f"{tag} at {f.url}"))
        page.on("request", lambda r: self._request(r, tag))
        # answered when its response (status and headers) came: the response event carries
        # the status, where requestfinished would need a round trip to the driver for it
        page.on("response", lambda r: self._done(r.request, f"answered {r.status}"))
        page.on("requestfailed", lambda r: self._done(r, f"FAILED ({r.failure})"))
        page.on("websocket", lambda ws: self._websocket(ws, tag))

    def _request(self, request, tag: str) -> None:
        self.pending[request] = (time.monotonic(), f"{tag} {request.method} {request.url}")

    def _done(self, request, how: str) -> None:
        began, what = self.pending.pop(request, (time.monotonic(), request.url))
        self._note(f"{what} {how} in {time.monotonic() - began:.2f}s")

    def _websocket(self, ws, tag: str) -> None:
        self._note(f"{tag} websocket {ws.url} opened")
        ws.on("framereceived", lambda frame: self._frame(tag, "<-", str(frame)))
        ws.on("framesent", lambda frame: self._frame(tag, "->", str(frame)))
        ws.on("close", lambda _ws: self._note(f"{tag} websocket closed"))
        ws.on("socketerror", lambda error: self._note(f"{tag} websocket error: {error}"))

    def _frame(self, tag: str, way: str, text: str) -> None:
        if '"type": "stats"' in text[:60]:  # a point per second: counted, not kept
            self.stats_frames += 1
            return
        self._note(f"{tag} ws {way} {text[:160]}")

    def report(self) -> str:
        now = time.monotonic()
        waiting = [
            f"  {what} (no answer for {now - began:.1f}s)" for began, what in self.pending.values()
        ]
        return "\n".join(
            [
                "requests still waiting for an answer:",
                *(waiting or ["  none"]),
                f"what the pages did (last {self.KEEP}; stats frames: {self.stats_frames}):",
                *(f"  {e}" for e in self.entries),
            ]
        )


def wait_ready(page, *explain) -> None:
    """Wait for ``body[data-ready=true]``; on a time-out fail with everything that says why:
    the page's state, the :class:`PageLog` of its context (if any) and each ``explain()``
    (the daemons' logs, a probe of the server)."""
    from playwright.sync_api import Error

    try:
        page.wait_for_selector("body[data-ready=true]")
    except Error as exc:
        parts = [f"the page never got ready: {exc}", f"url: {page.url}"]
        with contextlib.suppress(Error):
            parts.append("page: " + page.evaluate(PAGE_STATE))
        log = _LOGS.get(page.context)
        if log is not None:
            parts.append(log.report())
        for more in explain:
            with contextlib.suppress(Exception):
                parts.append(more())
        raise AssertionError("\n".join(parts)) from None


#: The page's own view, for a readiness failure: body data, the banner if shown, notices.
PAGE_STATE = """() => {
  const banner = document.getElementById("banner");
  return JSON.stringify({
    body: Object.assign({}, document.body.dataset),
    banner: banner && !banner.hidden ? banner.textContent.trim() : null,
    notices: Array.from(document.querySelectorAll(".notice")).map((n) => n.textContent),
  });
}"""
