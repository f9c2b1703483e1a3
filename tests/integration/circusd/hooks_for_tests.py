"""Hooks used by test_policy.py and test_limits.py (imported by circusd from the test's working
dir via PYTHONPATH)."""

import asyncio
import os
import signal
import time

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


def _count_spawn(hook_name, watcher) -> int:
    global _spawns
    _spawns += 1
    _log(f"{hook_name} {watcher.name}")
    return _spawns


def sigterm_at_spawn(watcher, arbiter, hook_name, **kwargs):
    """A before_spawn hook: logs ``before_spawn NAME`` and, at the spawn number
    ``$SIGTERM_AT_SPAWN``, sends circusd (this process) a SIGTERM: the signal comes at a known
    point of a large spawn, whatever the machine's load (used by test_limits.py)."""
    if _count_spawn(hook_name, watcher) == int(os.environ["SIGTERM_AT_SPAWN"]):
        os.kill(os.getpid(), signal.SIGTERM)
    return True


async def pause_at_spawn(watcher, arbiter, hook_name, **kwargs):
    """A before_spawn hook: logs ``before_spawn NAME`` and, at the spawn number
    ``$PAUSE_AT_SPAWN``, creates ``$PAUSE_DIR/paused`` and holds that spawn (circusd's loop
    keeps serving) until ``$PAUSE_DIR/go`` exists: a test acts at a known point of a large
    spawn, whatever the machine's load (used by test_limits.py)."""
    if _count_spawn(hook_name, watcher) == int(os.environ["PAUSE_AT_SPAWN"]):
        directory = os.environ["PAUSE_DIR"]
        open(os.path.join(directory, "paused"), "w").close()
        deadline = time.monotonic() + 60
        while not os.path.exists(os.path.join(directory, "go")) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    return True
