"""Fixtures shared by every test suite."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # makes tests/support.py importable as `support`


@pytest.fixture
def runtime_dir(tmp_path, monkeypatch):
    """A private runtime dir (0700) used as $XDG_RUNTIME_DIR, so no test touches the real one."""
    path = tmp_path / "run"
    path.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    return path
