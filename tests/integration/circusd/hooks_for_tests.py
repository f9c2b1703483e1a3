"""Hooks used by test_policy.py (imported by circusd from the test's working dir via PYTHONPATH)."""

import os

LOG = os.environ.get("HOOK_LOG", "/dev/null")


def _log(text):
    with open(LOG, "a") as f:
        f.write(text + "\n")


def record(watcher, arbiter, hook_name, **kwargs):
    _log(f"{hook_name} {watcher.name} {kwargs.get('pid', '')}".strip())
    return True


def refuse(watcher, arbiter, hook_name, **kwargs):
    _log(f"refused {hook_name} {watcher.name}")
    return False


def explode(watcher, arbiter, hook_name, **kwargs):
    raise RuntimeError("boom")


def uwsgi_like_stats(watcher, arbiter, hook_name, pid, stats, **kwargs):
    """An extended_stats hook as in the manual's uwsgi example: adds keys to the info."""
    stats["requests"] = 42
    stats["workers"] = {"busy": 1}
