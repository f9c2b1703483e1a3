"""An owner for background tasks: it keeps them referenced, logs a failure once, and cancels
what is still running when its owner stops.

asyncio keeps only weak references to tasks: a task nobody holds can be collected while it
waits ("Task was destroyed but it is pending!"), and the exception of a task nobody awaits is
reported only when the task is collected, if ever. ``asyncio.TaskGroup`` is not a fit for
long-lived owners (a watcher, the arbiter): it lives in one ``async with`` block and cancels
every task when one fails. A :class:`TaskSet` lives as long as its owner, lets each task fail on
its own (logged with the task's description), and :meth:`TaskSet.cancel` ends the rest.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio


class TaskSet:
    """The background tasks of one owner (``owner`` names it in log messages)."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._tasks: dict[asyncio.Task[Any], str] = {}  # task -> what it does

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; ``what`` describes it in the failure log."""
        import asyncio  # here: circusctl imports the commands (and their TaskSet), no asyncio

        task = asyncio.get_running_loop().create_task(coro, name=f"{self.owner}: {what}")
        self._tasks[task] = what
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        what = self._tasks.pop(task, "task")
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            import logging  # here: circusctl imports this module (the commands') without it

            log = logging.getLogger(__name__)
            log.error("%s: %s failed: %s", self.owner, what, exc, exc_info=exc)

    async def cancel(self, grace: float = 0.0) -> None:
        """Cancel every task still running (except the caller's own) and wait for them. With
        ``grace``, tasks first get that many seconds to end on their own."""
        import asyncio

        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        if tasks and grace > 0:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            tasks = list(pending)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def cancel_soon(self) -> None:
        """Cancel every task still running (except the caller's own), without waiting."""
        import asyncio

        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
