"""Waiting on a pidfd: readable once its process has exited (an event, no polling)."""

from __future__ import annotations

import asyncio
import select


def has_exited(pidfd: int) -> bool:
    """True if the process of ``pidfd`` has exited (now, without waiting). ``poll``, not
    ``select``: select refuses fds from 1024 on, which the pidfds of a lost kernel's
    orphans reach when there are a thousand of them."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


async def exited_within(pidfd: int, timeout: float) -> bool:
    """True once the process of ``pidfd`` has exited, False if it still runs after ``timeout``.
    The pidfd stays open (the caller owns it)."""
    if has_exited(pidfd):
        return True
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(pidfd, readable)
    try:
        async with asyncio.timeout(timeout):
            await done
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(pidfd)
