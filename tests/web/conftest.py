"""Fixtures of the browser tests (headless chromium driving circushttpd), and what a failed
browser test reports besides its assertion: what its pages did (browser.PageLog) and the state
and logs of circusd and circushttpd (console.Console.explain)."""

from __future__ import annotations

import contextlib
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # makes browser.py importable


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    import browser

    context = item.funcargs.get("context")
    log = browser._LOGS.get(context) if context is not None else None
    if log is not None:
        report.sections.append(("what the browser's pages did", log.report()))
    console = item.funcargs.get("console")
    if console is not None and hasattr(console, "explain"):
        with contextlib.suppress(Exception):
            report.sections.append(("circusd and circushttpd", console.explain(context)))
