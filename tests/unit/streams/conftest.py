"""Fixtures for the stream tests."""

from __future__ import annotations

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # makes stream_support importable


def _set_tz(monkeypatch, zone: str):
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def utc_tz(monkeypatch):
    """Run the test with local time = UTC (restored afterwards)."""
    yield from _set_tz(monkeypatch, "UTC")


@pytest.fixture
def paris_tz(monkeypatch):
    """Run the test in a zone with an offset and DST (restored afterwards)."""
    yield from _set_tz(monkeypatch, "Europe/Paris")
