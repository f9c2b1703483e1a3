"""An adopted process's age against a real papa-kernel whose clock is off from circusd's.

A kernel on another machine (ssh, tcp) reports ``started=`` on that machine's wall clock;
circusd took the age of a process it adopts as its own ``time.time()`` minus that, so a skew of
S seconds made ``max_age`` fire S seconds early (at once) or late and ``stats`` show a wrong age.
The kernel lists how long each process has run on its own clock (``list processes age=1``),
which circusd uses. Here the kernel's wall clock is ``SKEW`` seconds behind (its ``time.time``
is shifted: kernelkit.SKEWED_CLOCK) and an in-process arbiter adopts its worker.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from hostkit import Collector
from kernelkit import RunningKernel

from circus.hosts.base import SpawnSpec
from circus.hosts.kernel import KernelHost
from circus.testing import arbiter_on, start_arbiter

pytestmark = pytest.mark.timeout(30)

#: The kernel's clock is this much behind circusd's: an age of ~1000 s before the fix, far
#: beyond the watcher's max_age (recycled at once).
SKEW = -1000.0
MAX_AGE = 60


def test_an_adopted_process_has_its_age_from_the_kernels_clock(kdir):
    """(A kernel ahead of circusd made the age 0, and max_age late: the unit test with a
    skewed FakeHost, tests/unit/policy/test_arbiter_policy.py, covers both ways exactly.)"""
    skew = SKEW
    kernel = RunningKernel(kdir, clock_skew=skew)
    try:

        async def main() -> None:
            spawner = KernelHost(kernel.endpoint)
            await spawner.open(Collector())
            try:  # a worker a previous circusd spawned
                spawned = await spawner.spawn(
                    SpawnSpec(name="circus.w.1", argv=("sleep", "30"), env={"PATH": "/bin"})
                )
            finally:
                await spawner.close()
            assert abs(time.time() + skew - spawned.started) < 5  # the kernel's clock
            config = {
                "watchers": [
                    {"name": "w", "cmd": "sleep 30", "max_age": MAX_AGE, "max_age_variance": 0}
                ]
            }
            arbiter = await start_arbiter(arbiter_on(KernelHost(kernel.endpoint), config))
            try:
                watcher = arbiter.get_watcher("w")
                assert watcher.pids() == [spawned.pid]
                [adopted] = watcher.processes.values()
                assert adopted.adopted and 0 <= adopted.age() < 5
                await asyncio.sleep(0.2)  # max_age not reached: not recycled
                assert watcher.pids() == [spawned.pid]
            finally:
                await arbiter.quit(stop_workers=True)

        asyncio.run(main())
    finally:
        kernel.stop()
