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

    context = None
    logs: list = []
    for value in item.funcargs.values():  # every browser context the test used, once
        with contextlib.suppress(TypeError):  # not weak-referenceable: not a context
            log = browser.log_of(value)
            if log is not None and all(log is not seen for seen in logs):
                logs.append(log)
                context = value
                report.sections.append(("what the browser's pages did", log.report()))
    console = item.funcargs.get("console")
    if console is not None and hasattr(console, "explain"):
        with contextlib.suppress(Exception):
            report.sections.append(("circusd and circushttpd", console.explain(context)))
