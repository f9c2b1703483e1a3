"""circus.util.pidfd: whether a process has exited, for any fd number."""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess

import pytest

from circus.util.pidfd import exited_within, has_exited

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def high_fds():
    """Push the next fd numbers past 1024 (select() refuses those), then release them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1200
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below {wanted}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    fillers = []
    try:
        while not fillers or fillers[-1] < 1030:
            fillers.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_has_exited_on_a_pidfd_numbered_above_1024(high_fds):
    """A lost kernel with a thousand orphans: their pidfds pass 1024, and select() raised
    ValueError there, which ended circusd's recovery of the kernel half-way."""
    child = subprocess.Popen(["sleep", "30"])
    pidfd = os.pidfd_open(child.pid)
    try:
        assert pidfd >= 1024
        assert not has_exited(pidfd)
        child.kill()
        child.wait()
        assert has_exited(pidfd)
        assert asyncio.run(exited_within(pidfd, 1.0))
    finally:
        os.close(pidfd)
        if child.poll() is None:
            child.kill()
            child.wait()
