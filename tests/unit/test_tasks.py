"""TaskSet: background tasks are referenced, a failure is logged once, cancel ends the rest."""

import asyncio
import gc
import logging

from circus.testing import settle, virtual_time
from circus.util.tasks import TaskSet


@virtual_time
async def test_a_failure_is_logged_once_with_what_the_task_did(caplog):
    tasks = TaskSet("watcher w")

    async def boom():
        raise RuntimeError("disk full")

    with caplog.at_level(logging.ERROR, logger="circus.util.tasks"):
        tasks.spawn(boom(), "reap hooks")
        await settle()
        gc.collect()
    assert [r.getMessage() for r in caplog.records] == ["watcher w: reap hooks failed: disk full"]
    assert len(tasks) == 0


@virtual_time
async def test_a_task_nobody_else_holds_runs_to_its_end():
    tasks = TaskSet("circusd")
    done = asyncio.Event()

    async def later():
        await asyncio.sleep(5)
        done.set()

    tasks.spawn(later(), "later")
    gc.collect()  # asyncio holds tasks weakly: the set must keep it alive
    await asyncio.wait_for(done.wait(), 10)


@virtual_time
async def test_cancel_ends_the_others_and_waits_but_spares_the_caller():
    tasks = TaskSet("circusd")
    ended: list[str] = []

    async def forever():
        try:
            await asyncio.Event().wait()
        finally:
            ended.append("forever")

    async def quitter():
        await tasks.cancel()  # e.g. quit on a signal, itself one of the tasks
        ended.append("quitter")

    tasks.spawn(forever(), "forever")
    await settle()
    await tasks.spawn(quitter(), "quit")
    assert ended == ["forever", "quitter"]
    assert len(tasks) == 0
