"""Helpers for the stream tests (imported as ``stream_support``; this directory is on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ORIGINAL_PYTHON = REPO / ".venv-circus019" / "bin" / "python"

#: 2023-11-14 22:13:20 UTC; tests drive time through message timestamps, never the clock.
T0 = 1700000000.0


def msg(data: bytes, pid: int = 42, name: str = "stdout", ts: float = T0) -> dict:
    """A stream message as the watcher builds it."""
    return {"data": data, "pid": pid, "name": name, "timestamp": ts}


def run_python(code: str, *, python: str = sys.executable, timeout: float = 30, **kwargs):
    """Run ``code`` in a fresh interpreter (TZ=UTC) that imports circus from this checkout."""
    env = dict(os.environ, PYTHONPATH=str(REPO), TZ="UTC")
    env.update(kwargs.pop("env", {}))
    return subprocess.run([python, "-c", code], env=env, timeout=timeout, check=False, **kwargs)
