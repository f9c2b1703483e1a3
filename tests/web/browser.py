"""A headless Chromium for the browser tests (Playwright for Python on Debian's chromium).

Playwright cannot download a browser here; it drives the system's ``/usr/bin/chromium``
(``$CIRCUS_CHROMIUM`` overrides the path). Tests skip, saying why, only when that browser is
missing.

Playwright's sync API keeps an asyncio loop running in the main thread while it is started,
which breaks ``asyncio.run()`` in other tests: a browser therefore lives for one test module
(module-scoped fixtures), never for the whole session.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM = os.environ.get("CIRCUS_CHROMIUM", "/usr/bin/chromium")
#: Upper bound of any single browser wait (ms): generous for a loaded 2-core machine.
TIMEOUT_MS = 15_000


def chromium_or_skip() -> str:
    """The chromium executable, or skip the test with the reason."""
    path = CHROMIUM if os.path.isabs(CHROMIUM) else shutil.which(CHROMIUM)
    if not path or not os.access(path, os.X_OK):
        pytest.skip(f"browser tests need chromium at {CHROMIUM} (apt-get install chromium)")
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
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # chromium's sandbox refuses root
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=args, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()
