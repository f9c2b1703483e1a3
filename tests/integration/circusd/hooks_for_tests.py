"""Hooks used by test_policy.py and test_limits.py (imported by circusd from the test's working
dir via PYTHONPATH)."""

import os
import signal

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


_spawns = 0


def sigterm_at_spawn(watcher, arbiter, hook_name, **kwargs):
    """A before_spawn hook: logs ``before_spawn NAME`` and, at the spawn number
    ``$SIGTERM_AT_SPAWN``, sends circusd (this process) a SIGTERM: the signal comes at a known
    point of a large spawn, whatever the machine's load (used by test_limits.py)."""
    global _spawns
    _spawns += 1
    _log(f"{hook_name} {watcher.name}")
    if _spawns == int(os.environ["SIGTERM_AT_SPAWN"]):
        os.kill(os.getpid(), signal.SIGTERM)
    return True
