"""An asyncio event loop on a virtual clock: the injectable clock of policy tests.

``loop.time()`` returns a virtual now that starts at 0. When no callback is ready and no I/O
is pending, the loop does not sleep: it jumps to the next timer. So ``asyncio.sleep``,
``call_later`` and ``wait_for`` timeouts in the code under test take exactly the delay they
ask for, and take no real time. Policy code reads time through its loop (``loop.time()``) where
it schedules, so it runs unchanged on this loop.

Real I/O still works (the loop polls its selector without waiting before jumping), but a test
that waits on real I/O should use a real loop: virtual time would run ahead of it. When nothing
is scheduled and no I/O is ready, the code under test waits forever: the loop raises
:class:`VirtualTimeDeadlock` instead of hanging.
"""

from __future__ import annotations

import asyncio
import functools
import selectors
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

T = TypeVar("T")
P = ParamSpec("P")


class VirtualTimeDeadlock(RuntimeError):
    """Nothing is scheduled and nothing can happen: the awaited result never comes."""


class _VirtualSelector(selectors.BaseSelector):
    """Wraps the real selector: polls it without blocking, then advances virtual time."""

    def __init__(self, loop: VirtualTimeLoop):
        self._loop = loop
        self._real = selectors.DefaultSelector()

    def register(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise VirtualTimeDeadlock(
                "virtual time: nothing is scheduled and no I/O is ready; the awaited "
                "result can never come"
            )
        self._loop.advance_to_next_timer()
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock is virtual (see the module docstring)."""

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(selector=_VirtualSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance_to_next_timer(self) -> None:
        """Jump to the earliest scheduled timer (exactly its due time)."""
        # asyncio keeps its timers in a private heap (no public accessor; typeshed omits it);
        # it drops cancelled heads before selecting.
        scheduled = self._scheduled  # type: ignore[attr-defined]
        if scheduled:
            self._virtual_now = max(self._virtual_now, scheduled[0].when())


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a fresh :class:`VirtualTimeLoop` (like ``asyncio.run``)."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(coro)


def virtual_time(test: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    """Decorate an ``async def`` test to run it on a fresh :class:`VirtualTimeLoop` (pytest
    still sees its fixtures: the signature is kept)."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_virtual(test(*args, **kwargs))

    return run


async def settle(max_rounds: int = 10_000) -> None:
    """Let every ready callback and task run, without advancing the clock: returns once only
    timers (and I/O) are left. For "what happened at this instant" assertions."""
    loop = asyncio.get_running_loop()
    for _ in range(max_rounds):
        await asyncio.sleep(0)
        if not loop._ready:  # type: ignore[attr-defined]  # asyncio's ready queue
            return
    raise RuntimeError(f"still busy after {max_rounds} rounds: a callback reschedules itself")
