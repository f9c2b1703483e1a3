"""A hook that raised is visible in ``status`` and ``stats`` of its watcher: which hook, its
dotted path, the exception's type and message, in an extra top-level key ``hook_failed`` (the
original clients read only ``status``/``statuses``/``info``/``infos``), until that hook runs
again without an exception. It was only in circusd's log and the ``hook_failure`` event."""

from __future__ import annotations

import asyncio

from policykit import started

from circus.control.commands.stats import Stats
from circus.control.commands.status import Status
from circus.testing import virtual_time


def _database_down(watcher, arbiter, hook_name, **kwargs):
    raise RuntimeError("database unreachable")


PATH = _database_down.__qualname__


@virtual_time
async def test_a_before_start_hook_that_raised_is_named_with_its_exception_in_status_and_stats():
    _host, arbiter, watcher = await started(hooks={"before_start": _database_down})
    assert watcher.status() == "stopped"
    reason = f"the before_start hook ({PATH}) raised RuntimeError: database unreachable"

    reply = await Status().execute(arbiter, {"name": "w"})
    assert reply["status"] == "stopped"  # the original's field, as the original client reads it
    detail = reply["hook_failed"]["before_start"]
    assert detail == {
        "hook": "before_start",
        "path": PATH,
        "error": "RuntimeError: database unreachable",
        "ignored": False,
        "time": detail["time"],
        "reason": reason,
    }
    # the hook that gave up the start is one note, with its exception
    refused = f"the before_start hook ({PATH}) refused the start"
    said = f"stopped (gave up: {refused}: it raised RuntimeError: database unreachable)"
    assert Status().console_msg(reply) == said

    everyone = await Status().execute(arbiter, {})
    assert everyone["statuses"] == {"w": "stopped"}  # unchanged: the extra key is beside it
    assert everyone["hook_failed"] == {"w": {"before_start": detail}}
    assert Status().console_msg(everyone) == f"w: {said}"

    stats = await Stats().execute(arbiter, {"name": "w", "extended": False})
    assert stats["name"] == "w" and stats["info"] == {}
    assert stats["hook_failed"] == {"before_start": detail}
    assert Stats().console_msg({"status": "ok", **stats}) == f"w: {said.removeprefix('stopped ')}"
    all_stats = await Stats().execute(arbiter, {"extended": False})
    assert set(all_stats["infos"]) == {"w"} and all_stats["hook_failed"] == {
        "w": {"before_start": detail}
    }


@virtual_time
async def test_an_ignored_hook_error_is_shown_until_the_hook_runs_cleanly():
    calls = []

    def flaky(watcher, arbiter, hook_name, **kwargs):
        calls.append(hook_name)
        if len(calls) == 1:
            raise ValueError("no metrics server")
        return True

    _host, arbiter, watcher = await started(hooks={"after_spawn": (flaky, True)})
    assert watcher.status() == "active"  # the error is ignored: the process runs
    reply = await Status().execute(arbiter, {"name": "w"})
    detail = reply["hook_failed"]["after_spawn"]
    assert detail["error"] == "ValueError: no metrics server" and detail["ignored"] is True
    assert detail["reason"].endswith("(ignored: the hook is configured with errors ignored)")
    assert Status().console_msg(reply) == f"active (hook failed: {detail['reason']})"

    await watcher.incr(1)  # the hook runs again, without an exception: the detail goes
    await asyncio.sleep(0)
    assert calls == ["after_spawn", "after_spawn"]
    reply = await Status().execute(arbiter, {"name": "w"})
    assert "hook_failed" not in reply
    assert "hook_failed" not in await Status().execute(arbiter, {})
